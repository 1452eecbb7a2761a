import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { GraphStore, type KnowledgeGraph } from "../../../../src/memory/sqlite/store.ts";
import { rng } from "../../../helpers/official.ts";

function freshFile(): string {
  return join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "store-")), "memory.db");
}
const freshStore = () => new GraphStore(freshFile());
const names = (g: KnowledgeGraph) => g.entities.map((e) => e.name);

/** The official server's search, verbatim in spirit: toLowerCase().includes() over name, type and observations. */
function officialSearch(graph: KnowledgeGraph, query: string): string[] {
  const q = query.toLowerCase();
  return graph.entities
    .filter((e) => e.name.toLowerCase().includes(q) || e.entityType.toLowerCase().includes(q) || e.observations.some((o) => o.toLowerCase().includes(q)))
    .map((e) => e.name);
}

describe("where msm deliberately differs from the official server", () => {
  test("a name, observation or relation repeated inside one call is stored once", () => {
    const store = freshStore();
    expect(
      store.createEntities([
        { name: "A", entityType: "t", observations: ["x", "x"] },
        { name: "A", entityType: "u", observations: [] },
      ]),
    ).toEqual([{ name: "A", entityType: "t", observations: ["x"] }]);
    expect(store.addObservations([{ entityName: "A", contents: ["y", "y"] }])).toEqual([{ entityName: "A", addedObservations: ["y"] }]);
    const r = { from: "A", to: "B", relationType: "r" };
    expect(store.createRelations([r, r])).toEqual([r]);
    expect(store.readGraph()).toEqual({ entities: [{ name: "A", entityType: "t", observations: ["x", "y"] }], relations: [r] });
    store.close();
  });
});

describe("search: the official match set, through the trigram index, ranked", () => {
  test("random graphs and queries: exactly the entities toLowerCase().includes() finds", () => {
    const r = rng(7);
    const alphabet = ["a", "B", "c", "İ", "ß", "ss", "é", "E", " ", '"', "*", "日", "🎉", "Σ", "σ", "ς", "-", "OR"];
    const word = (n: number) => Array.from({ length: n }, () => r.pick(alphabet)).join("");
    const store = freshStore();
    const entities = Array.from({ length: 300 }, (_, i) => ({
      name: `${word(1 + r.int(6))}#${i}`,
      entityType: word(1 + r.int(4)),
      observations: Array.from({ length: r.int(4) }, () => word(r.int(12))),
    }));
    store.createEntities(entities);
    const graph = store.readGraph();
    let nonEmpty = 0;
    for (let i = 0; i < 1500; i++) {
      const q = r.chance(0.5) ? word(1 + r.int(5)) : [...r.pick(entities).name].slice(r.int(3), 3 + r.int(5)).join("");
      const q2 = r.pick([q, q.toUpperCase(), q.toLowerCase()]);
      const expected = officialSearch(graph, q2).sort();
      const actual = names(store.searchNodes(q2)).sort();
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        throw new Error(`query ${JSON.stringify(q2)}: expected ${expected.length}, got ${actual.length}`);
      if (expected.length) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(300);
    store.close();
  }, 60_000);

  test("an exact name first, then names containing the query, then observation matches by BM25", () => {
    const store = freshStore();
    store.createEntities([
      { name: "notes", entityType: "t", observations: ["coffee once"] },
      { name: "Coffee grinder", entityType: "tool", observations: [] },
      { name: "Bar", entityType: "place", observations: ["coffee coffee coffee", "more coffee"] },
      { name: "coffee", entityType: "drink", observations: [] },
    ]);
    const ranked = names(store.searchNodes("COFFEE"));
    expect(ranked.slice(0, 2)).toEqual(["coffee", "Coffee grinder"]);
    expect(new Set(ranked.slice(2))).toEqual(new Set(["notes", "Bar"]));
    // Under three characters the scan ranks the same way (BM25 computed in SQL on every plan): three coffees beat one.
    expect(names(store.searchNodes("co"))).toEqual(["Coffee grinder", "coffee", "Bar", "notes"]);
    expect(names(store.searchNodes("cof"))).toEqual(["Coffee grinder", "coffee", "Bar", "notes"]);
    store.close();
  });

  test("common words: queries whose trigrams are in most rows scan, others use the index; same set and order either way", () => {
    const r = rng(11);
    const words = ["note", "about", "the", "page", "of", "37", "3", "meeting", "Note", "NOTE", "ab", "e 3", "37 "];
    const sentence = (n: number) => Array.from({ length: n }, () => r.pick(words)).join(r.pick([" ", " ", ", ", ""]));
    const store = freshStore();
    // Every entity has the frequent words; a few have rarer ones, so both plans come up.
    const entities = Array.from({ length: 400 }, (_, i) => ({
      name: `${r.pick(words)} ${i}`,
      entityType: r.pick(["note", "page", "meeting"]),
      observations: [`note ${i} on page 3 of 37 pages`, sentence(2 + r.int(8)), ...(r.chance(0.05) ? [`rare zebra ${i}`] : [])],
    }));
    store.createEntities(entities);
    const graph = store.readGraph();
    const plans = new Set<string>();
    const forced = (q: string, plan: "index" | "scan") => {
      const planner = (store as unknown as { planner: { plan: (n: string) => unknown } }).planner;
      const original = planner.plan;
      planner.plan = (n: string) => (n.length >= 3 ? { entities: plan, observations: plan } : original.call(planner, n));
      try {
        return names(store.searchNodes(q));
      } finally {
        planner.plan = original;
      }
    };
    for (let i = 0; i < 250; i++) {
      const q = r.pick([sentence(1 + r.int(3)), `note ${r.int(400)} `, "note 37 ", `zebra ${r.int(400)}`, "of 37 pages", r.pick(words)]);
      const q2 = r.pick([q, q.toUpperCase()]);
      plans.add(JSON.stringify(store.searchPlan(q2)));
      const expected = officialSearch(graph, q2).sort();
      const actual = names(store.searchNodes(q2));
      if (JSON.stringify([...actual].sort()) !== JSON.stringify(expected))
        throw new Error(`query ${JSON.stringify(q2)}: expected ${expected.length}, got ${actual.length}`);
      if ([...q2].length >= 3) {
        expect(forced(q2, "index")).toEqual(actual);
        expect(forced(q2, "scan")).toEqual(actual);
      }
    }
    expect(store.searchPlan("note 37 ").observations).toBe("scan");
    expect(store.searchPlan("zebra 12").observations).toBe("index");
    expect(plans.size).toBeGreaterThan(1);
    store.close();
  }, 60_000);

  test("limit and offset page search_nodes and read_graph; relations are those touching the page", () => {
    const store = freshStore();
    store.createEntities(Array.from({ length: 10 }, (_, i) => ({ name: `item ${i}`, entityType: "thing", observations: [] })));
    store.createRelations([
      { from: "item 0", to: "item 9", relationType: "r" },
      { from: "item 5", to: "item 6", relationType: "r" },
    ]);
    expect(names(store.readGraph({ limit: 3 }))).toEqual(["item 0", "item 1", "item 2"]);
    expect(store.readGraph({ limit: 3 }).relations).toEqual([{ from: "item 0", to: "item 9", relationType: "r" }]);
    expect(names(store.readGraph({ limit: 2, offset: 8 }))).toEqual(["item 8", "item 9"]);
    expect(store.searchNodes("item", { limit: 4 }).entities.length).toBe(4);
    const all = names(store.searchNodes("item"));
    expect([...names(store.searchNodes("item", { limit: 5 })), ...names(store.searchNodes("item", { limit: 5, offset: 5 }))]).toEqual(all);
    expect(names(store.searchNodes("i", { offset: 9 }))).toEqual([all[9]!]);
    store.close();
  });
});

describe("extra tools", () => {
  test("rename_entity carries relations along and refuses to overwrite", () => {
    const store = freshStore();
    store.createEntities([
      { name: "A", entityType: "t", observations: ["o"] },
      { name: "B", entityType: "t", observations: [] },
    ]);
    store.createRelations([
      { from: "A", to: "B", relationType: "r" },
      { from: "B", to: "A", relationType: "r" },
      { from: "Z", to: "B", relationType: "r" },
    ]);
    expect(() => store.renameEntity("A", "B")).toThrow("Entity with name B already exists");
    expect(() => store.renameEntity("nope", "C")).toThrow("Entity with name nope not found");
    // A dangling relation Z→B already exists: renaming A to Z would duplicate it, so the duplicate is dropped.
    store.createRelations([{ from: "A", to: "B", relationType: "r" }]);
    expect(store.renameEntity("A", "Z")).toEqual({ name: "Z", entityType: "t", observations: ["o"] });
    expect(store.readGraph().relations).toEqual([
      { from: "B", to: "Z", relationType: "r" },
      { from: "Z", to: "B", relationType: "r" },
    ]);
    expect(names(store.searchNodes("z"))).toEqual(["Z"]);
    expect(names(store.searchNodes("a"))).toEqual([]);
    store.close();
  });

  test("merge_entities folds observations and relations into the target, all or nothing", () => {
    const store = freshStore();
    store.createEntities([
      { name: "NYC", entityType: "city", observations: ["big", "east"] },
      { name: "New York", entityType: "city", observations: ["big", "apple"] },
      { name: "Ann", entityType: "person", observations: [] },
    ]);
    store.createRelations([
      { from: "Ann", to: "NYC", relationType: "lives in" },
      { from: "Ann", to: "New York", relationType: "lives in" },
      { from: "New York", to: "Ann", relationType: "hosts" },
    ]);
    expect(() => store.mergeEntities(["NYC", "missing"], "New York")).toThrow("Entity with name missing not found");
    expect(store.readGraph().entities.length).toBe(3);
    expect(store.mergeEntities(["NYC"], "New York")).toEqual({ name: "New York", entityType: "city", observations: ["big", "apple", "east"] });
    expect(store.readGraph()).toEqual({
      entities: [
        { name: "New York", entityType: "city", observations: ["big", "apple", "east"] },
        { name: "Ann", entityType: "person", observations: [] },
      ],
      relations: [
        { from: "Ann", to: "New York", relationType: "lives in" },
        { from: "New York", to: "Ann", relationType: "hosts" },
      ],
    });
    store.close();
  });

  test("entity_details keeps creation and update times; node_relations pages by direction; stats counts", async () => {
    const store = freshStore();
    store.createEntities([{ name: "A", entityType: "t", observations: [] }]);
    const before = store.entityDetails("A")!;
    expect(before.createdAt).toBe(before.updatedAt);
    await Bun.sleep(5);
    store.addObservations([{ entityName: "A", contents: ["new"] }]);
    const after = store.entityDetails("A")!;
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.updatedAt).toBeGreaterThan(before.updatedAt);
    expect(store.entityDetails("nope")).toBeUndefined();
    store.createRelations([
      { from: "A", to: "B", relationType: "1" },
      { from: "C", to: "A", relationType: "2" },
      { from: "A", to: "D", relationType: "3" },
    ]);
    expect(store.nodeRelations("A", "outgoing").map((r) => r.relationType)).toEqual(["1", "3"]);
    expect(store.nodeRelations("A", "incoming").map((r) => r.relationType)).toEqual(["2"]);
    expect(store.nodeRelations("A", "both", { limit: 2, offset: 1 }).map((r) => r.relationType)).toEqual(["2", "3"]);
    expect({ ...store.entityDetails("A"), createdAt: 0, updatedAt: 0 }).toEqual({
      name: "A",
      entityType: "t",
      observations: ["new"],
      createdAt: 0,
      updatedAt: 0,
      outgoingRelations: 2,
      incomingRelations: 1,
    });
    const stats = store.stats();
    expect({ ...stats, bytes: 0 }).toEqual({ database: store.file, entities: 1, observations: 1, relations: 3, bytes: 0 });
    expect(stats.bytes).toBeGreaterThan(0);
    store.close();
  });
});

describe("the file", () => {
  test("a first-version database (no search index) is upgraded in place and searchable", () => {
    const file = freshFile();
    const old = new Database(file, { create: true });
    old.exec(`
      CREATE TABLE entities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, entity_type TEXT NOT NULL, name_lc TEXT NOT NULL,
        type_lc TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE observations (id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
        content TEXT NOT NULL, content_lc TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (entity_id, content));
      CREATE TABLE relations (id INTEGER PRIMARY KEY, from_name TEXT NOT NULL, to_name TEXT NOT NULL, relation_type TEXT NOT NULL,
        created_at INTEGER NOT NULL, UNIQUE (from_name, to_name, relation_type));
      INSERT INTO entities VALUES (1, 'Old One', 'relic', 'old one', 'relic', 1, 1);
      INSERT INTO observations VALUES (1, 1, 'Found In The Attic', 'found in the attic', 1);`);
    old.close();
    const store = new GraphStore(file);
    expect(names(store.searchNodes("ATTIC"))).toEqual(["Old One"]);
    expect(names(store.searchNodes("relic"))).toEqual(["Old One"]);
    store.db.exec("INSERT INTO observations_fts (observations_fts) VALUES ('integrity-check')");
    expect(store.db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    store.close();
  });

  test("pragmas: WAL, synchronous FULL, busy timeout, foreign keys", () => {
    const store = freshStore();
    expect(store.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(store.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 });
    expect((store.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout).toBe(10_000);
    expect(store.db.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    store.close();
  });

  test("every call but read_graph uses an index (no full scan of a table)", () => {
    const store = freshStore();
    const plans: string[] = [];
    const explain = (sql: string, ...params: unknown[]) =>
      plans.push(
        ...(store.db.query(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as [])) as { detail: string }[]).map((p) => `${sql.slice(0, 40)}: ${p.detail}`),
      );
    explain("SELECT id FROM entities WHERE name = ?", "x");
    explain("SELECT content FROM observations WHERE entity_id = ? ORDER BY id", 1);
    explain("DELETE FROM observations WHERE entity_id = ? AND content = ?", 1, "x");
    explain("DELETE FROM relations WHERE from_name = ? AND to_name = ? AND relation_type = ?", "a", "b", "c");
    explain("SELECT id FROM relations WHERE from_name = ?1 UNION SELECT id FROM relations WHERE to_name = ?1", "a");
    explain("DELETE FROM relations WHERE to_name = ?", "a");
    expect(plans.filter((p) => /SCAN (entities|observations|relations)\b/.test(p) && !/USING/.test(p))).toEqual([]);
    store.close();
  });
});
