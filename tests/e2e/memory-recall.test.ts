/**
 * `recall` as an editor sees it, through `dist/msm proxy`: listed beside the official nine, answering text and
 * structuredContent alike, and ranking the same graph identically on SQLite and on PostgreSQL (score for score)
 * through every kind of write. On PostgreSQL also: a database made by the msm before recall (schema 2) is upgraded,
 * and rows an msm of that version keeps writing are indexed by the next recall.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, call, openSession } from "../helpers/sandbox.ts";
import { rng } from "../helpers/official.ts";
import { type TestPostgres, postgresAvailable, usePostgres } from "../helpers/postgres.ts";
import { PG_SCHEMA_STEPS, PG_SCHEMA_VERSION } from "../../src/memory/postgres/schema.ts";

interface Result {
  entity: string;
  entityType: string;
  observation: string;
  score: number;
}

describe("recall through the proxy", () => {
  test("listed after the official tools, read-only, with its schema; text and structuredContent say the same", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const s = await openSession(sandbox, sandbox.project("app"));
    const tools = (await s.client.listTools()).tools;
    const recall = tools.find((t) => t.name === "recall")!;
    expect(tools.indexOf(recall)).toBeGreaterThanOrEqual(9);
    expect(recall.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(recall.inputSchema.required).toEqual(["query"]);
    expect(Object.keys(recall.inputSchema.properties ?? {}).sort()).toEqual(["entityTypes", "limit", "query"]);
    await call(s.client, "create_entities", {
      entities: [
        { name: "Alice", entityType: "person", observations: ["works at Acme as a data engineer", "drinks her coffee black"] },
        { name: "Acme", entityType: "company", observations: ["makes anvils in Springfield"] },
      ],
    });
    const result = await s.client.callTool({ name: "recall", arguments: { query: "Where does Alice work?", limit: 2 } });
    const structured = result.structuredContent as { results: Result[] };
    expect(structured.results[0]).toMatchObject({ entity: "Alice", entityType: "person", observation: "works at Acme as a data engineer" });
    expect(structured.results).toHaveLength(2);
    expect((result.content as { text: string }[])[0]!.text).toBe(JSON.stringify(structured, null, 2));
    const bad = await s.client.callTool({ name: "recall", arguments: { query: "x", limit: 0 } });
    expect(bad.isError).toBe(true);
    await s.close();
  }, 60_000);
});

let pg: () => TestPostgres;

describe.skipIf(!postgresAvailable())("recall on PostgreSQL", () => {
  pg = usePostgres();

  test("SQLite and PostgreSQL rank the same graph the same, score for score, through every kind of write", async () => {
    await using lite = new Sandbox({ targets: { memory: { port: 0 } } });
    await using post = new Sandbox({ targets: { memory: { port: 0, database: pg().passwordUrl() } } });
    const a = await openSession(lite, lite.project("rank"));
    const b = await openSession(post, post.project("rank"));
    const both = async (name: string, args: Record<string, unknown>) => {
      const [x, y] = await Promise.all([a.client.callTool({ name, arguments: args }), b.client.callTool({ name, arguments: args })]);
      return [x, y] as const;
    };
    const r = rng(3);
    // Long-tailed word frequencies, so a question mixes rare words (read whole) and common ones (looked up).
    const vocabulary = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}`);
    const text = () => Array.from({ length: 3 + r.int(20) }, () => vocabulary[Math.floor(vocabulary.length * r.next() ** 3)]!).join(" ");
    const names = Array.from({ length: 30 }, (_, i) => `entity ${i} ${vocabulary[r.int(30)]}`);
    for (let i = 0; i < names.length; i += 10) {
      const entities = names.slice(i, i + 10).map((name) => ({
        name,
        entityType: r.pick(["person", "place", "note"]),
        observations: [...new Set(Array.from({ length: 40 }, text))],
      }));
      await both("create_entities", { entities });
    }
    let answers = 0;
    let compared = 0;
    for (let round = 0; round < 6; round++) {
      for (let q = 0; q < 15; q++) {
        const args = {
          query: Array.from({ length: 2 + r.int(4) }, () => r.pick([...vocabulary.slice(0, 60), "entity", "person"])).join(" "),
          limit: r.pick([3, 10, 40]),
          ...(r.chance(0.2) ? { entityTypes: [r.pick(["Person", "place"])] } : {}),
        };
        const [x, y] = await both("recall", args);
        const results = (x.structuredContent as { results: Result[] }).results;
        expect({ args, postgres: y.structuredContent }).toEqual({ args, postgres: x.structuredContent });
        compared++;
        if (results.length) answers++;
      }
      const name = r.pick(names);
      const kind = round % 3;
      if (kind === 0) await both("add_observations", { observations: [{ entityName: name, contents: [text(), text()] }] });
      if (kind === 1) await both("delete_entities", { entityNames: [r.pick(names)] });
      if (kind === 2) {
        const target = r.pick(names);
        await both("rename_entity", { oldName: name, newName: `${name} renamed` });
        await both("merge_entities", { sources: [`${name} renamed`], target });
      }
    }
    expect(compared).toBe(90);
    expect(answers).toBeGreaterThan(60);
    await a.close();
    await b.close();
  }, 300_000);

  test("a database made before recall (schema 2) is upgraded; rows an older msm writes afterwards are indexed by the next recall", async () => {
    await pg().psql("CREATE DATABASE before_recall OWNER team", "postgres");
    // Schema 2 and rows as msm wrote them before recall existed.
    await pg().psql(`${PG_SCHEMA_STEPS[1]!}\n${PG_SCHEMA_STEPS[2]!}`, "before_recall");
    await pg().psql(
      `CREATE TABLE msm_schema (version int NOT NULL, msm_version text NOT NULL, upgraded_at bigint NOT NULL);
       INSERT INTO msm_schema VALUES (2, '0.1.0', 0);
       INSERT INTO msm_projects (key, created_at) VALUES ('id:old', 0);
       INSERT INTO msm_entities (project, name, entity_type, name_lc, type_lc, created_at, updated_at) VALUES
         (1, 'Alice', 'person', 'alice', 'person', 0, 0), (1, 'Acme', 'company', 'acme', 'company', 0, 0);
       INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at) VALUES
         (1, 1, 'works at Acme as a data engineer', 'works at acme as a data engineer', 1700000000000),
         (1, 1, 'drinks her coffee black', 'drinks her coffee black', 1700000001000),
         (2, 1, 'makes anvils', 'makes anvils', 1700000002000);
       ALTER TABLE msm_entities OWNER TO team; ALTER TABLE msm_observations OWNER TO team; ALTER TABLE msm_relations OWNER TO team;
       ALTER TABLE msm_projects OWNER TO team; ALTER TABLE msm_schema OWNER TO team; ALTER TABLE msm_observation_stats OWNER TO team;`,
      "before_recall",
    );
    await using sandbox = new Sandbox({ targets: { memory: { port: 0, database: pg().passwordUrl("before_recall") } } });
    const project = sandbox.project("old");
    mkdirSync(join(project, ".claude"), { mode: 0o700 });
    writeFileSync(join(project, ".claude", "msm.json"), JSON.stringify({ projectId: "old" }), { mode: 0o600 });
    const s = await openSession(sandbox, project);
    const recall = async (query: string) => (await call<{ results: Result[] }>(s.client, "recall", { query })).results;
    expect((await recall("Where does Alice work?"))[0]).toMatchObject({ entity: "Alice", observation: "works at Acme as a data engineer" });
    const db = new Bun.SQL(pg().url("before_recall"), { max: 1 });
    try {
      expect(Number((await db`SELECT version FROM msm_schema`)[0].version)).toBe(PG_SCHEMA_VERSION);
      // Write times are the rows' own.
      expect((await db`SELECT created_at::float8 AS t FROM msm_observations ORDER BY id`).map((r: { t: number }) => r.t)).toEqual([
        1700000000000, 1700000001000, 1700000002000,
      ]);
      // An msm of schema 2 on another machine goes on writing and renaming, unaware of the index.
      await db`INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at) VALUES (2, 1, 'keeps bees on the roof', 'keeps bees on the roof', 0)`;
      await db`UPDATE msm_entities SET name = 'Acme Corp', name_lc = 'acme corp' WHERE name = 'Acme'`;
      expect((await recall("bees"))[0]).toMatchObject({ entity: "Acme Corp", observation: "keeps bees on the roof" });
      expect((await recall("corp")).map((r) => r.entity)).toContain("Acme Corp");
      const [counts] = await db`
        SELECT (SELECT sum(docs) FROM msm_recall_stats)::float8 AS docs, (SELECT count(*) FROM msm_observations)::float8 AS observations,
               (SELECT sum(entities) FROM msm_recall_stats)::float8 AS entities, (SELECT count(*) FROM msm_entities)::float8 AS entity_rows`;
      expect(counts).toEqual({ docs: 4, observations: 4, entities: 2, entity_rows: 2 });
    } finally {
      await db.close();
    }
    await s.close();
  }, 120_000);
});
