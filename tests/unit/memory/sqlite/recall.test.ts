// `recall` on the SQLite store: what it finds, that its pruned and indexed ranking equals a plain computation of the
// same formula over every observation, that the index stays exactly what a rebuild would give through every kind of
// write (and writes by other programs), and that a database made by the previous msm is upgraded.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { idf, termCounts, termFrequencyWeight } from "../../../../src/lib/text/index.ts";
import { GraphStore } from "../../../../src/memory/sqlite/store.ts";
import { poolSize, queryTerms, RECALL_DEFAULT_LIMIT, RECALL_TUNING, recallPlan, type Need, type RecallResult } from "../../../../src/memory/recall.ts";
import { rng } from "../../../helpers/official.ts";

const freshFile = () => join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "recall-")), "memory.db");
const freshStore = () => new GraphStore(freshFile());
const observations = (results: RecallResult[]) => results.map((r) => r.observation);

describe("recall finds what a question means", () => {
  test("words, not a substring: stemmed, stopwords ignored, names and types count", () => {
    const store = freshStore();
    store.createEntities([
      { name: "Alice", entityType: "person", observations: ["works at Acme as a data engineer", "drinks her coffee black"] },
      { name: "Bob", entityType: "person", observations: ["worked at Initech", "runs marathons"] },
      { name: "Lisbon", entityType: "city", observations: ["sunny, by the sea"] },
    ]);
    // search_nodes matches the whole question as one substring: nothing.
    expect(store.searchNodes("Where does Alice work?").entities).toEqual([]);
    const work = store.recall("Where does Alice work?");
    expect(work[0]).toMatchObject({ entity: "Alice", entityType: "person", observation: "works at Acme as a data engineer" });
    expect(work.map((r) => r.score)).toEqual([...work.map((r) => r.score)].sort((a, b) => b - a));
    expect(observations(store.recall("running")).at(0)).toBe("runs marathons");
    // An entity that matches by name or type brings its observations even when none holds a word of the question.
    expect(observations(store.recall("tell me about the city"))).toEqual(["sunny, by the sea"]);
    expect(store.recall("the of and")).toEqual([]);
    expect(store.recall("")).toEqual([]);
    store.close();
  });

  test("the observation written next to a match ranks with it (a question, then its answer)", () => {
    const store = freshStore();
    store.createEntities([
      {
        name: "chat",
        entityType: "conversation",
        observations: ["Mel: What book are you reading these days?", "Caroline: Dune, for the second time!", "Mel: Nice. Any plans for the summer?"],
      },
      { name: "notes", entityType: "note", observations: ["the garden needs water", "buy bread"] },
    ]);
    const found = observations(store.recall("Which book is Caroline reading?"));
    expect(found.slice(0, 2).sort()).toEqual(["Caroline: Dune, for the second time!", "Mel: What book are you reading these days?"]);
    expect(found).not.toContain("buy bread");
    store.close();
  });

  test("equal scores: the observation written last comes first (write times, kept through a merge)", () => {
    const store = freshStore();
    store.createEntities([
      { name: "Alice", entityType: "person", observations: ["lived in Porto", "lives in Lisbon"] },
      { name: "Old notes", entityType: "note", observations: ["worked at Acme"] },
    ]);
    store.db.exec("UPDATE observations SET created_at = 3000 WHERE content = 'lived in Porto'");
    store.db.exec("UPDATE observations SET created_at = 2000 WHERE content = 'lives in Lisbon'");
    store.db.exec("UPDATE observations SET created_at = 4000 WHERE content = 'worked at Acme'");
    expect(observations(store.recall("Alice?"))).toEqual(["lived in Porto", "lives in Lisbon"]);
    store.mergeEntities(["Old notes"], "Alice");
    expect(observations(store.recall("Alice?"))).toEqual(["worked at Acme", "lived in Porto", "lives in Lisbon"]);
    store.close();
  });

  test("limit (default 10, at most 100) and entityTypes (case-insensitive)", () => {
    const store = freshStore();
    store.createEntities([
      { name: "Ann", entityType: "Person", observations: Array.from({ length: 150 }, (_, i) => `coffee note ${i}`) },
      { name: "Cafe", entityType: "place", observations: ["serves coffee"] },
    ]);
    expect(store.recall("coffee")).toHaveLength(RECALL_DEFAULT_LIMIT);
    expect(store.recall("coffee", { limit: 3 })).toHaveLength(3);
    expect(store.recall("coffee", { limit: 1000 })).toHaveLength(100);
    expect(new Set(store.recall("coffee", { entityTypes: ["PLACE"] }).map((r) => r.entity))).toEqual(new Set(["Cafe"]));
    expect(new Set(store.recall("coffee", { entityTypes: ["person"], limit: 100 }).map((r) => r.entity))).toEqual(new Set(["Ann"]));
    expect(store.recall("coffee", { entityTypes: ["city"] })).toEqual([]);
    store.close();
  });
});

// The formula of recall.ts computed plainly over every observation (no pruning, no index): the reference the store's
// answers must equal, score for score.
interface Doc {
  id: number;
  entity: number;
  counts: Map<string, number>;
  length: number;
  content: string;
}
function reference(store: GraphStore, query: string, limit = RECALL_DEFAULT_LIMIT): RecallResult[] {
  const tuning = RECALL_TUNING;
  const entities = store.db.query("SELECT id, name, entity_type FROM entities ORDER BY id").all() as { id: number; name: string; entity_type: string }[];
  const docs: Doc[] = (
    store.db.query("SELECT id, entity_id, content FROM observations ORDER BY id").all() as { id: number; entity_id: number; content: string }[]
  ).map((o) => ({ id: o.id, entity: o.entity_id, content: o.content, ...termCounts(o.content) }));
  const wanted = queryTerms(query);
  if (wanted.length === 0) return [];
  const dfs = new Map(wanted.map((t) => [t, docs.filter((d) => d.counts.has(t)).length]));
  const df = (t: string) => dfs.get(t)!;
  const byId = new Map(docs.map((d) => [d.id, d]));
  const average = docs.reduce((a, d) => a + d.length, 0) / docs.length;
  const order = wanted.filter((t) => df(t) > 0).sort((a, b) => df(a) - df(b) || (a < b ? -1 : 1));
  const s = new Map<number, number>();
  for (const d of docs) {
    let sum = 0;
    let matched = false;
    for (const t of order) {
      const tf = d.counts.get(t);
      if (tf === undefined) continue;
      matched = true;
      sum += idf(docs.length, df(t)) * termFrequencyWeight(tf, d.length, average, tuning.bm25);
    }
    if (matched) s.set(d.id, sum);
  }
  const pool = poolSize(limit);
  const anchors = new Map<number, number>(
    [...s]
      .sort((a, b) => b[1] - a[1] || b[0] - a[0])
      .slice(0, pool)
      .map(([id]) => [id, byId.get(id)!.entity]),
  );
  const named = entities.map((e) => ({ id: e.id, ...termCounts(`${e.name} ${e.entity_type}`) }));
  const entityDfs = new Map(wanted.map((t) => [t, named.filter((e) => e.counts.has(t)).length]));
  const entityDf = (t: string) => entityDfs.get(t)!;
  const averageName = named.reduce((a, e) => a + e.length, 0) / named.length;
  const e = new Map<number, number>();
  for (const t of wanted.filter((t) => entityDf(t) > 0)) {
    for (const n of named) {
      const tf = n.counts.get(t);
      if (tf !== undefined) e.set(n.id, (e.get(n.id) ?? 0) + idf(named.length, entityDf(t)) * termFrequencyWeight(tf, n.length, averageName, tuning.bm25));
    }
  }
  const topEntities = [...e]
    .sort((a, b) => b[1] - a[1] || b[0] - a[0])
    .slice(0, limit)
    .map(([id]) => id)
    .sort((a, b) => a - b);
  const ofEntity = new Map<number, number[]>();
  for (const d of docs) ofEntity.set(d.entity, [...(ofEntity.get(d.entity) ?? []), d.id]);
  const of = (entity: number) => [...(ofEntity.get(entity) ?? [])];
  for (const entity of topEntities) for (const id of of(entity).reverse().slice(0, limit)) if (!anchors.has(id)) anchors.set(id, entity);
  const span = tuning.neighbourWeights.length;
  const sequences = [...anchors].map(([id, entity]) => {
    const all = of(entity);
    const at = all.indexOf(id);
    const from = Math.max(0, at - 2 * span);
    return { entity, ids: all.slice(from, at + 2 * span + 1), at: at - from };
  });
  const score = (id: number) => s.get(id) ?? 0;
  const best = new Map<number, number>();
  for (const q of sequences) for (const id of q.ids) best.set(q.entity, Math.max(best.get(q.entity) ?? 0, score(id)));
  const final = new Map<number, number>();
  for (const q of sequences) {
    for (let i = Math.max(0, q.at - span); i <= Math.min(q.ids.length - 1, q.at + span); i++) {
      const id = q.ids[i]!;
      if (final.has(id)) continue;
      let value = score(id);
      tuning.neighbourWeights.forEach((w, k) => {
        value += w * Math.max(i - k - 1 >= 0 ? score(q.ids[i - k - 1]!) : 0, i + k + 1 < q.ids.length ? score(q.ids[i + k + 1]!) : 0);
      });
      value += tuning.entityShare * (best.get(q.entity) ?? 0) + (e.get(q.entity) ?? 0);
      if (value > 0) final.set(id, value);
    }
  }
  const time = new Map(
    (store.db.query("SELECT id, created_at FROM observations").all() as { id: number; created_at: number }[]).map((o) => [o.id, o.created_at]),
  );
  return [...final]
    .sort((a, b) => b[1] - a[1] || time.get(b[0])! - time.get(a[0])! || b[0] - a[0])
    .slice(0, limit)
    .map(([id, value]) => {
      const doc = byId.get(id)!;
      const entity = entities.find((x) => x.id === doc.entity)!;
      return { entity: entity.name, entityType: entity.entity_type, observation: doc.content, score: Math.round(value * 1e4) / 1e4 };
    });
}

/** Words with a long-tailed frequency, as in real text: a few in most observations, most in a handful. */
function zipfText(r: ReturnType<typeof rng>, vocabulary: string[], length: number): string {
  return Array.from({ length }, () => vocabulary[Math.floor(vocabulary.length * r.next() ** 3)]!).join(" ");
}

describe("the pruned, indexed ranking is the plain formula", () => {
  test("random graphs and questions: equal to the reference, answer for answer, with the common words pruned", () => {
    const r = rng(11);
    const vocabulary = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}x`);
    const store = freshStore();
    for (let e = 0; e < 60; e++) {
      store.createEntities([
        {
          name: `entity ${e} ${vocabulary[r.int(40)]}`,
          entityType: r.pick(["person", "place", "note"]),
          observations: Array.from({ length: 20 + r.int(40) }, () => zipfText(r, vocabulary, 3 + r.int(25))),
        },
      ]);
    }
    const index = (store as unknown as { recallIndex: { answer(need: Need): unknown } }).recallIndex;
    let pruned = 0;
    let answered = 0;
    for (let i = 0; i < 150; i++) {
      const query = zipfText(r, [...vocabulary, "entity", "person", "the", "of"], 2 + r.int(5));
      const limit = r.pick([1, 5, 10, 30]);
      // Drive the plan by hand to see whether it looked common words up instead of reading them whole.
      const plan = recallPlan(query, { limit });
      let step = plan.next();
      while (!step.done) {
        if (step.value.kind === "lookups") pruned++;
        step = plan.next(index.answer(step.value));
      }
      expect({ query, limit, results: step.value }).toEqual({ query, limit, results: reference(store, query, limit) });
      expect(store.recall(query, { limit })).toEqual(step.value);
      if (step.value.length) answered++;
    }
    expect(pruned).toBeGreaterThan(50);
    expect(answered).toBeGreaterThan(120);
    store.close();
  }, 120_000);
});

/** The index as content, independent of row ids: postings, document frequencies and totals. */
function indexContent(store: GraphStore) {
  const q = (sql: string) => store.db.query(sql).all();
  return {
    postings: q(`SELECT p.term, e.name, o.content, p.tf, p.length FROM recall_postings p JOIN observations o ON o.id = p.observation_id
                 JOIN entities e ON e.id = p.entity_id ORDER BY 1, 2, 3`),
    docs: q(
      "SELECT e.name, o.content, d.length FROM recall_docs d JOIN observations o ON o.id = d.observation_id JOIN entities e ON e.id = d.entity_id ORDER BY 1, 2",
    ),
    terms: q("SELECT term, df FROM recall_terms ORDER BY term"),
    entityPostings: q("SELECT p.term, e.name, p.tf, p.length FROM recall_entity_postings p JOIN entities e ON e.id = p.entity_id ORDER BY 1, 2"),
    entityTerms: q("SELECT term, df FROM recall_entity_terms ORDER BY term"),
    stats: q("SELECT docs, length, entities, entity_length FROM recall_stats"),
  };
}

/** What the index should hold: the same graph written into a fresh store in one go. */
function rebuilt(store: GraphStore) {
  const fresh = freshStore();
  const graph = store.readGraph();
  fresh.importGraph(graph.entities, graph.relations);
  const content = indexContent(fresh);
  fresh.close();
  return content;
}

describe("the index follows every write", () => {
  test("creates, adds, deletes, renames, merges and a failed call: always what a rebuild gives", () => {
    const r = rng(5);
    const words = ["coffee", "tea", "graph", "proxy", "daemon", "Émile", "runs", "running", "the", "日本語", "v2"];
    const text = () => Array.from({ length: 1 + r.int(6) }, () => r.pick(words)).join(" ");
    const names = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay"];
    const store = freshStore();
    for (let step = 0; step < 300; step++) {
      const name = r.pick(names);
      const roll = r.int(100);
      try {
        if (roll < 25) store.createEntities([{ name, entityType: r.pick(["person", "Person", "place"]), observations: [text(), text()] }]);
        else if (roll < 50) store.addObservations([{ entityName: name, contents: [text(), text()] }]);
        else if (roll < 62) store.deleteObservations([{ entityName: name, observations: store.openNodes([name]).entities[0]?.observations.slice(0, 1) ?? [] }]);
        else if (roll < 70) store.deleteEntities([name]);
        else if (roll < 80) store.renameEntity(name, `${r.pick(names)}${r.pick(["", " Jr"])}`);
        else if (roll < 90) store.mergeEntities([name], r.pick(names));
        else
          store.addObservations([
            { entityName: name, contents: [text()] },
            { entityName: "nobody", contents: ["rolled back"] },
          ]);
      } catch {}
      if (step % 25 === 24) expect(indexContent(store)).toEqual(rebuilt(store));
    }
    expect(indexContent(store)).toEqual(rebuilt(store));
    store.close();
  }, 60_000);

  test("rows another program writes or deletes: deletes take their postings at once, inserts are indexed by the next recall", () => {
    const file = freshFile();
    const store = new GraphStore(file);
    store.createEntities([{ name: "Ann", entityType: "person", observations: ["likes green tea", "plays chess"] }]);
    const shell = new Database(file);
    // A sqlite3 shell: foreign keys off, no idea of the index.
    shell.exec("INSERT INTO observations (entity_id, content, content_lc, created_at) VALUES (1, 'keeps bees in the garden', 'keeps bees in the garden', 0)");
    shell.exec("INSERT INTO entities (name, entity_type, name_lc, type_lc, created_at, updated_at) VALUES ('Hive', 'bees', 'hive', 'bees', 0, 0)");
    shell.exec("DELETE FROM observations WHERE content = 'plays chess'");
    shell.close();
    expect(observations(store.recall("bees"))[0]).toBe("keeps bees in the garden");
    expect(store.recall("chess")).toEqual([]);
    expect(indexContent(store)).toEqual(rebuilt(store));
    store.close();
  });

  test("an identical observation is stored once, as the official add_observations does, and keeps its first write time", () => {
    const store = freshStore();
    store.createEntities([
      { name: "Ann", entityType: "person", observations: ["likes tea"] },
      { name: "Bob", entityType: "person", observations: ["likes tea", "plays chess"] },
    ]);
    const before = store.observationTimes("Ann");
    expect(store.addObservations([{ entityName: "Ann", contents: ["likes tea", "plays go"] }])).toEqual([
      { entityName: "Ann", addedObservations: ["plays go"] },
    ]);
    expect(store.observationTimes("Ann")[0]).toEqual(before[0]!);
    store.db.exec("UPDATE observations SET created_at = 1000 WHERE content = 'plays chess'");
    store.mergeEntities(["Bob"], "Ann");
    expect(store.observationTimes("Ann").map((o) => o.content)).toEqual(["likes tea", "plays go", "plays chess"]);
    expect(store.observationTimes("Ann")[2]!.createdAt).toBe(1000);
    expect(indexContent(store)).toEqual(rebuilt(store));
    store.close();
  });
});

describe("schema upgrade", () => {
  test("a database made by msm before recall (schema 2) is upgraded on open: indexed, times and answers kept", () => {
    // tests/fixtures/memory/schema-2.db was written by msm's store at commit 20e7aa8 (three entities, a relation,
    // eight observations, their created_at set to known values).
    const file = freshFile();
    copyFileSync(resolve(import.meta.dir, "../../../fixtures/memory/schema-2.db"), file);
    const old = new Database(file, { readonly: true });
    expect((old.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    const graphBefore = old.query("SELECT id, entity_id, content, created_at FROM observations ORDER BY id").all();
    old.close();
    const store = new GraphStore(file);
    expect((store.db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(3);
    expect(store.db.query("SELECT id, entity_id, content, created_at FROM observations ORDER BY id").all()).toEqual(graphBefore);
    expect(store.observationTimes("Alice")[0]!.createdAt).toBeGreaterThan(1_700_000_000_000);
    expect(store.recall("Where does Alice work?")[0]).toMatchObject({ entity: "Alice", observation: "works at Acme as a data engineer" });
    expect(observations(store.recall("what is Bob reading"))).toContain("Reading Dune, second time");
    expect(indexContent(store)).toEqual(rebuilt(store));
    expect(store.searchNodes("acme").entities.map((e) => e.name)).toEqual(["Acme", "Alice"]);
    store.close();
    // Opening again changes nothing.
    const again = new GraphStore(file);
    expect(indexContent(again)).toEqual(rebuilt(again));
    again.close();
  });
});
