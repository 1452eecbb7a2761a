/**
 * Differential test: seeded random call sequences go to the official memory server (node, stdio, its own JSONL
 * file) and to msm (dist/msm proxy → daemon → SQLite), and every answer must be the same. Search results are
 * compared as sets of entities, because msm ranks them; everything else — text, structuredContent, errors, order —
 * must match exactly. MSM_DIFF_SEEDS=N runs more seeds.
 */
import { describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Sandbox, openSession } from "../helpers/sandbox.ts";
import { rng, startOfficial } from "../helpers/official.ts";
import { postgresAvailable, usePostgres } from "../helpers/postgres.ts";

const SEEDS = Number(process.env.MSM_DIFF_SEEDS ?? 100);
const STEPS = Number(process.env.MSM_DIFF_STEPS ?? 60);

// Small pools so calls collide: the same names, triples and observations come back again and again. Case variants,
// non-ASCII folding (İ lowercases to two code units, ß does not fold to ss), quotes and one- and two-character
// strings exercise the search paths (trigram index vs scan) against JavaScript's toLowerCase().includes().
const NAMES = [
  "Alice",
  "alice",
  "ALICE",
  "Bob",
  "Émile",
  "émile",
  "İstanbul",
  "straße",
  "Strasse",
  "Zoë",
  "a b",
  'x"y',
  "ab",
  "abc",
  "日本語",
  "Coffee Shop",
  "ghost",
];
const TYPES = ["person", "Person", "city", "drink", "place", "thing"];
const OBSERVATIONS = [
  "likes coffee",
  "Likes Coffee",
  "born in İstanbul",
  "works at the Coffee Shop",
  "ab",
  "abc def",
  "STRASSE 5",
  'uses "quotes"',
  "emoji 🎉 party",
  "日本語を話す",
  "",
  "tab\there",
  "AND OR NOT",
  "a*b",
];
const RELATION_TYPES = ["knows", "likes", "lives in", "KNOWS"];
const FIXED_QUERIES = ["", "a", "A", "AB", "zz", "coffee", "COFFEE SHOP", "İ", "i̇", "ss", "ß", "🎉", '"', "*", "abc", "nope-nothing", "OR", "b c", "person"];

type Random = ReturnType<typeof rng>;
type Call = { name: string; arguments: Record<string, unknown> };

function query(r: Random): string {
  if (r.chance(0.35)) return r.pick(FIXED_QUERIES);
  const source = r.pick([...NAMES, ...TYPES, ...OBSERVATIONS]);
  const chars = [...source];
  const start = r.int(chars.length + 1);
  const text = chars.slice(start, start + 1 + r.int(6)).join("");
  return r.pick([text, text.toUpperCase(), text.toLowerCase()]);
}

const relation = (r: Random) => ({ from: r.pick(NAMES), to: r.pick(NAMES), relationType: r.pick(RELATION_TYPES) });

/** Distinct by a key: msm stores a thing repeated inside one call once (a documented difference), so no call repeats one. */
function distinct<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && !!seen.add(key(item)));
}

function nextCall(r: Random): Call {
  const roll = r.int(100);
  if (roll < 20) {
    const entities = distinct(
      Array.from({ length: 1 + r.int(3) }, () => ({ name: r.pick(NAMES), entityType: r.pick(TYPES), observations: r.some(OBSERVATIONS, 0, 3) })),
      (e) => e.name,
    );
    return { name: "create_entities", arguments: { entities } };
  }
  if (roll < 32) {
    const relations = distinct(
      Array.from({ length: 1 + r.int(3) }, () => relation(r)),
      (x) => JSON.stringify(x),
    );
    return { name: "create_relations", arguments: { relations } };
  }
  if (roll < 45) {
    const observations = Array.from({ length: 1 + r.int(2) }, () => ({ entityName: r.pick(NAMES), contents: r.some(OBSERVATIONS, 1, 3) }));
    return { name: "add_observations", arguments: { observations } };
  }
  if (roll < 50) return { name: "delete_entities", arguments: { entityNames: r.some(NAMES, 1, 2) } };
  if (roll < 56) {
    const deletions = Array.from({ length: 1 + r.int(2) }, () => ({ entityName: r.pick(NAMES), observations: r.some(OBSERVATIONS, 1, 3) }));
    return { name: "delete_observations", arguments: { deletions } };
  }
  if (roll < 62) return { name: "delete_relations", arguments: { relations: Array.from({ length: 1 + r.int(2) }, () => relation(r)) } };
  if (roll < 82) return { name: "search_nodes", arguments: { query: query(r) } };
  if (roll < 92) return { name: "open_nodes", arguments: { names: Array.from({ length: r.int(4) }, () => r.pick(NAMES)) } };
  if (roll < 97) return { name: "read_graph", arguments: {} };
  // Invalid arguments: both must refuse them the same way.
  return r.pick([
    { name: "create_entities", arguments: { entities: [{ name: "x" }] } },
    { name: "search_nodes", arguments: {} },
    { name: "add_observations", arguments: { observations: "none" } },
    { name: "open_nodes", arguments: { names: [1, 2] } },
    { name: "delete_relations", arguments: { relations: [{ from: "a", to: "b" }] } },
  ]);
}

type Graph = { entities: { name: string }[]; relations: unknown[] };

/** Whatever the client saw: a result (text, structuredContent, isError) or a thrown protocol error. */
async function outcome(client: Client, call: Call): Promise<unknown> {
  try {
    const result = await client.callTool(call);
    const content = result.content as { type: string; text: string }[];
    const structured = result.structuredContent as Graph | undefined;
    if (call.name === "search_nodes" && !result.isError) {
      // Same set of entities in any order; the text must still be the pretty JSON of the structured answer.
      const text = content[0]!.text;
      if (text !== JSON.stringify(structured, null, 2)) return { textMismatch: text };
      return { isError: false, structured: { ...structured!, entities: [...structured!.entities].sort(byName) } };
    }
    return { isError: result.isError ?? false, content, structured };
  } catch (error) {
    return { thrown: (error as Error).message };
  }
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Empties a graph through the tools themselves (dangling relations need delete_relations). */
async function reset(client: Client): Promise<void> {
  const graph = (await client.callTool({ name: "read_graph", arguments: {} })).structuredContent as { entities: { name: string }[]; relations: unknown[] };
  if (graph.entities.length) await client.callTool({ name: "delete_entities", arguments: { entityNames: graph.entities.map((e) => e.name) } });
  if (graph.relations.length) await client.callTool({ name: "delete_relations", arguments: { relations: graph.relations } });
}

// Observations built from a few words, repeated and of very different lengths, so BM25's term frequency and length
// normalisation both decide orders (the shortest matching observation often does not win).
const WORDS = ["coffee", "tea", "rust", "memory", "graph", "the", "of", "a", "Coffee", "proxy", "daemon", "note", "x"];
const RANK_QUERIES = [
  "coffee",
  "tea",
  "the",
  "of",
  "a",
  "e",
  "co",
  "ee",
  "rust",
  "memory graph",
  "coffee coffee",
  "OF THE",
  "x",
  "note",
  "nothing-here",
  "entity",
  "kind",
];

function words(r: Random, count: number): string {
  return Array.from({ length: count }, () => r.pick(WORDS)).join(" ");
}

/**
 * SQLite (FTS5 statistics) and PostgreSQL (msm_observation_stats) rank the same search the same way, tie for tie: the
 * same seeded writes go to one project on each backend, and every search answer — order included — must be equal.
 * Deletes run between searches so the statistics are checked after removals too (cascades from deleted entities).
 */
function rankingParity(seeds: number, url: () => string): void {
  test(`SQLite and PostgreSQL give the same search order (${seeds} seeded graphs)`, async () => {
    await using lite = new Sandbox({ targets: { memory: { port: 0 } } });
    await using post = new Sandbox({ targets: { memory: { port: 0, database: url() } } });
    const a = await openSession(lite, lite.project("rank"));
    const b = await openSession(post, post.project("rank"));
    let searches = 0;
    let notShortestFirst = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const r = rng(1000 + seed);
      const calls: Call[] = [];
      const names = Array.from({ length: 25 }, (_, i) => `entity-${seed}-${i}${r.chance(0.2) ? ` ${r.pick(WORDS)}` : ""}`);
      for (let i = 0; i < names.length; i += 5) {
        const entities = names.slice(i, i + 5).map((name) => ({
          name,
          entityType: r.chance(0.15) ? `kind of ${r.pick(WORDS)}` : "kind",
          observations: distinct(
            Array.from({ length: 1 + r.int(4) }, () => words(r, 1 + r.int(r.chance(0.3) ? 30 : 6))),
            (o) => o,
          ),
        }));
        calls.push({ name: "create_entities", arguments: { entities } });
      }
      for (let round = 0; round < 3; round++) {
        for (const q of [...RANK_QUERIES, r.pick(WORDS).slice(0, 1 + r.int(4))]) {
          calls.push({ name: "search_nodes", arguments: { query: q } });
          if (r.chance(0.3)) calls.push({ name: "search_nodes", arguments: { query: q, limit: 1 + r.int(4), offset: r.int(3) } });
        }
        calls.push({ name: "delete_entities", arguments: { entityNames: r.some(names, 1, 3) } });
        calls.push({ name: "delete_observations", arguments: { deletions: [{ entityName: r.pick(names), observations: [words(r, 1)] }] } });
        calls.push({ name: "add_observations", arguments: { observations: [{ entityName: r.pick(names), contents: [words(r, 2 + r.int(20))] }] } });
      }
      for (const call of calls) {
        const [x, y] = (await Promise.all([a.client.callTool(call), b.client.callTool(call)])) as { structuredContent?: unknown }[];
        if (call.name !== "search_nodes") continue;
        searches++;
        if (JSON.stringify(y!.structuredContent) !== JSON.stringify(x!.structuredContent)) {
          throw new Error(`seed ${seed}: ${JSON.stringify(call)}\n sqlite:   ${names_(x!)}\n postgres: ${names_(y!)}`);
        }
        if (!shortestFirst(String(call.arguments.query), x!.structuredContent as RankedGraph)) notShortestFirst++;
      }
      await reset(a.client);
      await reset(b.client);
    }
    // The seeds must reach orders that "shortest matching observation first" gets wrong, or the test proves little.
    expect(notShortestFirst).toBeGreaterThan(0);
    expect(searches).toBeGreaterThan(seeds * RANK_QUERIES.length * 3);
    await a.close();
    await b.close();
  }, 300_000);
}

const names_ = (result: { structuredContent?: unknown }) => JSON.stringify((result.structuredContent as Graph).entities.map((e) => e.name));

/** Whether the observation matches of an answer come shortest matching observation first (the old PostgreSQL order). */
type RankedGraph = { entities: { name: string; entityType: string; observations: string[] }[] };
function shortestFirst(query: string, graph: RankedGraph): boolean {
  const q = query.toLowerCase();
  const lengths = graph.entities
    .filter((e) => !e.name.toLowerCase().includes(q) && !String(e.entityType).toLowerCase().includes(q))
    .map((e) => Math.min(...e.observations.filter((o) => o.toLowerCase().includes(q)).map((o) => o.length)));
  return lengths.every((n, i) => i === 0 || lengths[i - 1]! <= n);
}

/** The same test on each backend: per-project SQLite files, and one PostgreSQL server (a throwaway one). */
function differential(backend: "sqlite" | "postgres", seeds: number, config: () => object): void {
  describe(`msm answers exactly like the official memory server (${backend})`, () => {
    test("tools, schemas, annotations and the resource are the official ones (plus additive extras)", async () => {
      await using sandbox = new Sandbox(config());
      const official = await startOfficial(sandbox.root);
      try {
        const msm = await openSession(sandbox, sandbox.project("p"));
        const theirs = (await official.client.listTools()).tools;
        const ours = new Map((await msm.client.listTools()).tools.map((t) => [t.name, t]));
        expect(theirs.length).toBe(9);
        for (const tool of theirs) {
          const mine = ours.get(tool.name)!;
          expect(mine).toBeDefined();
          expect(mine.title).toBe(tool.title);
          expect(mine.description).toBe(tool.description);
          expect(mine.annotations).toEqual(tool.annotations);
          expect(mine.outputSchema).toEqual(tool.outputSchema);
          expect(mine.inputSchema.required).toEqual(tool.inputSchema.required);
          // Every official property, identical; msm may add optional ones (limit/offset).
          for (const [key, schema] of Object.entries(tool.inputSchema.properties ?? {})) expect(mine.inputSchema.properties?.[key]).toEqual(schema);
        }
        // msm's own tools, after the official nine (which keep their exact schemas and answers, checked above and by
        // every seeded sequence below). `recall` is one of them: an addition, so a client that knows only the official
        // tools sees the same nine, and the list grows only by names the official server does not use.
        expect([...ours.keys()].filter((n) => !theirs.some((t) => t.name === n)).sort()).toEqual([
          "entity_details",
          "memory_stats",
          "merge_entities",
          "node_relations",
          "recall",
          "rename_entity",
        ]);
        expect([...ours.keys()].slice(0, 9)).toEqual(theirs.map((t) => t.name));
        expect((await msm.client.listResources()).resources).toEqual((await official.client.listResources()).resources);
        expect(msm.client.getServerCapabilities()?.resources?.subscribe).toBe(true);
        expect(((await msm.client.callTool({ name: "memory_stats", arguments: {} })).structuredContent as { backend?: string }).backend).toBe(backend);
        await msm.close();
      } finally {
        await official.close();
      }
    });

    test(`${seeds} seeded random sequences of ${STEPS} calls give identical answers`, async () => {
      await using sandbox = new Sandbox(config());
      const official = await startOfficial(sandbox.root);
      try {
        const msm = await openSession(sandbox, sandbox.project("p"));
        let calls = 0;
        for (let seed = 1; seed <= seeds; seed++) {
          const r = rng(seed);
          for (let step = 0; step < STEPS; step++) {
            const call = nextCall(r);
            // Both at once: two separate servers, and waiting on one after the other doubled this test's time.
            const [expected, actual] = await Promise.all([outcome(official.client, call), outcome(msm.client, call)]);
            calls++;
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              const graph = await official.client.callTool({ name: "read_graph", arguments: {} });
              throw new Error(
                `seed ${seed}, step ${step}: ${JSON.stringify(call)}\n official: ${JSON.stringify(expected)}\n msm:      ${JSON.stringify(actual)}\n graph before/after: ${JSON.stringify(graph.structuredContent)}`,
              );
            }
          }
          // Same final graph, then both start the next seed empty.
          const a = await outcome(official.client, { name: "read_graph", arguments: {} });
          const b = await outcome(msm.client, { name: "read_graph", arguments: {} });
          expect(b).toEqual(a);
          await reset(official.client);
          await reset(msm.client);
          expect(await outcome(msm.client, { name: "read_graph", arguments: {} })).toEqual(
            await outcome(official.client, { name: "read_graph", arguments: {} }),
          );
        }
        expect(calls).toBe(seeds * STEPS);
        await msm.close();
      } finally {
        await official.close();
      }
    }, 300_000);
  });
}

differential("sqlite", SEEDS, () => ({ targets: { memory: { port: 0 } } }));

// PostgreSQL is slower per call (a network round trip per statement), so fewer seeds unless MSM_DIFF_SEEDS says.
if (postgresAvailable()) {
  const pg = usePostgres();
  differential("postgres", Number(process.env.MSM_DIFF_SEEDS ?? 40), () => ({ targets: { memory: { port: 0, database: pg().passwordUrl() } } }));
  rankingParity(Number(process.env.MSM_RANK_SEEDS ?? 12), () => pg().passwordUrl());
} else {
  test.skip("PostgreSQL differential (initdb not installed)", () => {});
}
