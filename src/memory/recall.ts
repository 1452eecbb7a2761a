/*
 * `recall`: observations ranked for a question asked in words, offline and without a model. Both backends run this
 * very code; they only answer its questions about the index (the `Need`s below) from their own tables. Scores are
 * computed here, in JavaScript, from integers the databases counted, so SQLite and PostgreSQL rank the same graph
 * identically, score for score.
 *
 * The score of an observation d of entity E:
 *
 *   s(d)  = BM25 of the question's terms in d (lib/text: folded, stopwords out, Snowball-stemmed; k1 1.2, b 0.75)
 *   f(d)  = s(d) + ½·max(s(d−1), s(d+1)) + ¼·max(s(d−2), s(d+2))      neighbours: E's observations before and after
 *         + ⅕·max{ s(x) : x an observation of E scored here }           the entity's best match
 *         + e(E)                                                       BM25 of the question in E's name and type
 *
 * Why each part (figures: `npm run bench -- recall`, LoCoMo dev set, R@10; docs/benchmarks.md):
 * - Observations written one after another are often one thought split up: a question and its answer, a fact and
 *   its reason. The turn that answers a question often shares no word with it while the turn before does. Weights
 *   halve with each step away; the nearer side on each distance counts, not both (a turn between two matches is not
 *   twice as likely). 64.7 % → 75.6 %.
 * - An entity whose best observation matches well is a relevant context for its other observations. +1.2 points.
 * - Names and types are what an agent asks about ("where does Alice work?") and often absent from the
 *   observations themselves, so they are scored as a field of their own over the entities, and an entity that
 *   matches by name brings its latest observations even when none of them holds a query word.
 * Constants are the textbook ones (BM25) or round ones chosen on three conversations and checked by leaving each
 * out in turn; see docs/benchmarks.md.
 *
 * Equal scores go to the observation written last.
 *
 * Cost: the terms are read rarest first and the common ones only in documents that can still reach the pool of the
 * best `poolSize` (MaxScore, Turtle & Flood 1995): "what did Caroline research" reads `research` whole but looks
 * `carolin` up only in the few hundred observations that hold `research`. The result is exactly what scoring every
 * observation would give (tests/unit/memory/sqlite/recall.test.ts). Neighbours are read for the pool only.
 */
import { BM25, type Bm25Params, idf, maxTermScore, termFrequencyWeight, terms as textTerms } from "../lib/text/index.ts";

/** What one recall returns per observation. */
export interface RecallResult {
  entity: string;
  entityType: string;
  observation: string;
  score: number;
}

export interface RecallOptions {
  limit?: number;
  /** Only observations of entities of these types (compared case-insensitively). */
  entityTypes?: string[];
}

export const RECALL_DEFAULT_LIMIT = 10;
export const RECALL_MAX_LIMIT = 100;
/** The ranking's constants; only the benchmark passes others (to show how the chosen ones were chosen). */
export interface RecallTuning {
  bm25: Bm25Params;
  /** Weight of the observations at distance 1, 2, … from a match. */
  neighbourWeights: number[];
  /** Share of the entity's best observation score every scored observation of it gets. */
  entityShare: number;
}

export const RECALL_TUNING: RecallTuning = { bm25: BM25, neighbourWeights: [0.5, 0.25], entityShare: 0.2 };
/** How many observations, best by BM25, are looked at with their neighbours: plenty more than a page. */
export const poolSize = (limit: number) => Math.max(50, 3 * limit);

/**
 * One posting: [document (observation id), its entity, term frequency, document length in terms]. Plain arrays,
 * not objects: a common word has tens of thousands of them per question.
 */
export type PostingRow = [doc: number, entity: number, tf: number, length: number];

/** An entity's posting (name and type as one text). */
export interface EntityPosting {
  term: string;
  entity: number;
  tf: number;
  length: number;
}

/** Index-wide counts: observations (documents) and their total length in terms; the same over entities' names. */
export interface RecallStats {
  docs: number;
  length: number;
  entities: number;
  entityLength: number;
  /** Documents holding each asked term; absent = none. */
  df: Map<string, number>;
  entityDf: Map<string, number>;
}

/** What the ranking asks its backend, one question at a time, inside one read transaction. */
export type Need =
  | { kind: "stats"; terms: string[] }
  /** Entity ids of these lower-cased types. */
  | { kind: "entitiesOfTypes"; types: string[] }
  /** Every posting of one term. */
  | { kind: "postings"; term: string }
  /** The postings of `term` within `docs` (sorted; documents not holding it have none). */
  | { kind: "lookups"; term: string; docs: number[] }
  /** The entity postings of `terms`. */
  | { kind: "entityPostings"; terms: string[] }
  /** Per document, the ids of the `span` observations before it (nearest first) and after it, in its entity. */
  | { kind: "windows"; docs: { doc: number; entity: number }[]; span: number }
  /** The newest `per` observations of each entity, newest first. */
  | { kind: "latest"; entities: number[]; per: number }
  /** When each document was written (ms since the epoch). */
  | { kind: "times"; docs: number[] }
  /** Content, entity name and type of each document. */
  | { kind: "rows"; docs: number[] };

export type Answer<N extends Need> = N extends { kind: "stats" }
  ? RecallStats
  : N extends { kind: "entitiesOfTypes" }
    ? number[]
    : N extends { kind: "postings" } | { kind: "lookups" }
      ? PostingRow[]
      : N extends { kind: "entityPostings" }
        ? EntityPosting[]
        : N extends { kind: "windows" }
          ? Map<number, { before: number[]; after: number[] }>
          : N extends { kind: "latest" }
            ? Map<number, number[]>
            : N extends { kind: "times" }
              ? Map<number, number>
              : Map<number, { observation: string; entity: string; entityType: string }>;

/** The distinct terms of a question, in a fixed order (scores are summed in it: same order, same doubles). */
export function queryTerms(query: string): string[] {
  return [...new Set(textTerms(query))].sort();
}

/** The k-th largest of the first `n` of `values` (1-based), or -Infinity when there are fewer: a min-heap, O(n log k). */
function kthLargest(values: Float64Array, n: number, k: number): number {
  if (n < k) return Number.NEGATIVE_INFINITY;
  const heap = new Float64Array(k);
  let size = 0;
  for (let x = 0; x < n; x++) {
    const v = values[x]!;
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]! <= heap[i]!) break;
        const t = heap[parent]!;
        heap[parent] = heap[i]!;
        heap[i] = t;
        i = parent;
      }
    } else if (v > heap[0]!) {
      heap[0] = v;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < k && heap[l]! < heap[m]!) m = l;
        if (r < k && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        const t = heap[m]!;
        heap[m] = heap[i]!;
        heap[i] = t;
        i = m;
      }
    }
  }
  return heap[0]!;
}

/**
 * Documents met while scoring, in one open-addressing table of typed arrays: a common word brings tens of thousands,
 * and a Map per field was most of a question's time. Slot order is insertion order (`ids`).
 */
class Documents {
  size = 0;
  ids = new Float64Array(1024);
  entity = new Float64Array(1024);
  score = new Float64Array(1024);
  /** How many of the terms not read whole have been counted in this document (see recallPlan). */
  counted = new Int32Array(1024);
  private table = new Int32Array(4096).fill(-1);

  find(doc: number): number {
    const mask = this.table.length - 1;
    for (let h = hash(doc) & mask; ; h = (h + 1) & mask) {
      const slot = this.table[h]!;
      if (slot < 0 || this.ids[slot] === doc) return slot;
    }
  }

  /** The slot of `doc`, added (score 0, nothing counted) when new. */
  slot(doc: number, entity: number): number {
    let mask = this.table.length - 1;
    let h = hash(doc) & mask;
    for (; ; h = (h + 1) & mask) {
      const slot = this.table[h]!;
      if (slot < 0) break;
      if (this.ids[slot] === doc) return slot;
    }
    if (this.size === this.ids.length) this.growRows();
    if (2 * (this.size + 1) > this.table.length) {
      this.growTable();
      mask = this.table.length - 1;
      for (h = hash(doc) & mask; this.table[h]! >= 0; h = (h + 1) & mask);
    }
    const slot = this.size++;
    this.table[h] = slot;
    this.ids[slot] = doc;
    this.entity[slot] = entity;
    return slot;
  }

  private growRows(): void {
    const n = this.ids.length * 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.ids = grow(this.ids, (m) => new Float64Array(m));
    this.entity = grow(this.entity, (m) => new Float64Array(m));
    this.score = grow(this.score, (m) => new Float64Array(m));
    this.counted = grow(this.counted, (m) => new Int32Array(m));
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2).fill(-1);
    const mask = this.table.length - 1;
    for (let slot = 0; slot < this.size; slot++) {
      let h = hash(this.ids[slot]!) & mask;
      while (this.table[h]! >= 0) h = (h + 1) & mask;
      this.table[h] = slot;
    }
  }
}

/** Ids are integers below 2^53; mixing both halves spreads consecutive ids. */
function hash(doc: number): number {
  const x = Math.imul((doc | 0) ^ ((doc / 4294967296) | 0), 0x9e3779b1);
  return x ^ (x >>> 15);
}

/** Above this share of a term's postings, reading them all costs less than looking each document up. */
const LOOKUP_SHARE = 1 / 8;

type Ask = <N extends Need>(need: N) => Generator<N, Answer<N>, unknown>;
/** Yields a need and returns the backend's answer to it, typed. */
const ask: Ask = function* <N extends Need>(need: N) {
  return (yield need) as Answer<N>;
};

/**
 * The ranking, as a generator of needs: drive it with `runRecallSync` (SQLite, synchronous) or `runRecall` (a
 * backend that answers with promises). Returns the results, best first.
 */
export function* recallPlan(query: string, options: RecallOptions = {}, tuning: RecallTuning = RECALL_TUNING): Generator<Need, RecallResult[], unknown> {
  const span = tuning.neighbourWeights.length;
  const limit = Math.min(Math.max(1, Math.floor(options.limit ?? RECALL_DEFAULT_LIMIT)), RECALL_MAX_LIMIT);
  const wanted = queryTerms(query);
  if (wanted.length === 0) return [];
  const stats = yield* ask({ kind: "stats", terms: wanted });
  const allowed = options.entityTypes?.length
    ? new Set(yield* ask({ kind: "entitiesOfTypes", types: [...new Set(options.entityTypes.map((t) => t.toLowerCase()))].sort() }))
    : undefined;
  const pool = poolSize(limit);

  // Observation terms, rarest first (ties by the term, so both backends take the same path).
  const byRarity = wanted.filter((t) => (stats.df.get(t) ?? 0) > 0).sort((a, b) => stats.df.get(a)! - stats.df.get(b)! || (a < b ? -1 : 1));
  const averageLength = stats.docs ? stats.length / stats.docs : 1;
  const weight = new Map(byRarity.map((t) => [t, idf(stats.docs, stats.df.get(t)!)]));
  const bound = byRarity.map((t) => maxTermScore(weight.get(t)!, tuning.bm25));
  const boundFrom = bound.map((_, i) => bound.slice(i).reduce((a, b) => a + b, 0));

  const docs = new Documents();
  /** Adds one term's postings to the documents' scores (only documents already met, when `known`). */
  const add = (rows: PostingRow[], term: string, known?: boolean) => {
    const w = weight.get(term)!;
    for (const [doc, entity, tf, length] of rows) {
      if (allowed && !allowed.has(entity)) continue;
      const slot = known ? docs.find(doc) : docs.slot(doc, entity);
      if (slot < 0) continue;
      docs.score[slot]! += w * termFrequencyWeight(tf, length, averageLength, tuning.bm25);
    }
  };

  // MaxScore: read terms whole, rarest first, until no document holding none of them could reach the pool.
  let whole = 0;
  for (; whole < byRarity.length; whole++) {
    if (docs.size >= pool && kthLargest(docs.score, docs.size, pool) > boundFrom[whole]!) break;
    add(yield* ask({ kind: "postings", term: byRarity[whole]! }), byRarity[whole]!);
  }
  // The other terms are counted only in the documents that can still reach the pool, one term at a time, dropping
  // those that fall out of reach. `counted` says how many of them a document has had added: always the first ones,
  // in order, so every score is the same sum in the same order whichever documents were asked about together.
  const rest = byRarity.slice(whole);
  let candidates = Array.from({ length: docs.size }, (_, slot) => slot);
  for (let k = 0; k < rest.length; k++) {
    const scores = Float64Array.from(candidates, (slot) => docs.score[slot]!);
    const threshold = kthLargest(scores, scores.length, pool);
    const reach = boundFrom[whole + k]!;
    candidates = candidates.filter((slot) => docs.score[slot]! + reach >= threshold);
    const term = rest[k]!;
    const ids = candidates.map((slot) => docs.ids[slot]!).sort((x, y) => x - y);
    if (ids.length < stats.df.get(term)! * LOOKUP_SHARE) add(yield* ask({ kind: "lookups", term, docs: ids }), term, true);
    else {
      // Reading them all is cheaper; only the candidates may count them (the others stop at k terms).
      const wantedIds = new Set(ids);
      add(
        (yield* ask({ kind: "postings", term })).filter((row) => wantedIds.has(row[0])),
        term,
        true,
      );
    }
    for (const slot of candidates) docs.counted[slot] = k + 1;
  }
  /** Makes the given documents' scores exact: the terms not yet counted in them, in term order. */
  function* complete(ids: Iterable<number>, entities: Map<number, number>): Generator<Need, void, unknown> {
    const pending = [...new Set(ids)].map((doc) => docs.slot(doc, entities.get(doc)!)).filter((slot) => docs.counted[slot]! < rest.length);
    for (let k = 0; k < rest.length; k++) {
      const need = pending
        .filter((slot) => docs.counted[slot]! <= k)
        .map((slot) => docs.ids[slot]!)
        .sort((x, y) => x - y);
      if (need.length) add(yield* ask({ kind: "lookups", term: rest[k]!, docs: need }), rest[k]!, true);
    }
    for (const slot of pending) docs.counted[slot] = rest.length;
  }
  const score = (doc: number) => {
    const slot = docs.find(doc);
    return slot >= 0 && docs.counted[slot] === rest.length ? docs.score[slot]! : 0;
  };
  // The pool: the best exact scores (ties: the newer observation).
  const exact = candidates.length && rest.length ? candidates : Array.from({ length: docs.size }, (_, slot) => slot);
  const cut = kthLargest(
    Float64Array.from(exact, (slot) => docs.score[slot]!),
    exact.length,
    pool,
  );
  const best = exact.filter((slot) => docs.score[slot]! >= cut).sort((x, y) => docs.score[y]! - docs.score[x]! || docs.ids[y]! - docs.ids[x]!);
  const anchors = new Map<number, number>(best.slice(0, pool).map((slot) => [docs.ids[slot]!, docs.entity[slot]!]));

  // Names and types: BM25 over entities; the best few bring their newest observations in.
  const entityScore = new Map<number, number>();
  const entityTerms = wanted.filter((t) => (stats.entityDf.get(t) ?? 0) > 0);
  if (entityTerms.length) {
    const averageNameLength = stats.entities ? stats.entityLength / stats.entities : 1;
    const byTerm = new Map(entityTerms.map((t) => [t, [] as EntityPosting[]]));
    for (const p of yield* ask({ kind: "entityPostings", terms: entityTerms })) if (!allowed || allowed.has(p.entity)) byTerm.get(p.term)?.push(p);
    for (const term of entityTerms) {
      const w = idf(stats.entities, stats.entityDf.get(term)!);
      for (const p of byTerm.get(term)!) {
        entityScore.set(p.entity, (entityScore.get(p.entity) ?? 0) + w * termFrequencyWeight(p.tf, p.length, averageNameLength, tuning.bm25));
      }
    }
    const top = [...entityScore].sort((a, b) => b[1] - a[1] || b[0] - a[0]).slice(0, limit);
    if (top.length) {
      const latest = yield* ask({ kind: "latest", entities: top.map(([e]) => e).sort((a, b) => a - b), per: limit });
      for (const [entity, docs] of latest) for (const d of docs) if (!anchors.has(d)) anchors.set(d, entity);
    }
  }
  if (anchors.size === 0) return [];

  // Neighbours: each anchor's window of 2·span on each side places every document within span of it and theirs.
  const windows = yield* ask({
    kind: "windows",
    docs: [...anchors].map(([doc, entity]) => ({ doc, entity })).sort((a, b) => a.doc - b.doc),
    span: Math.max(1, 2 * span),
  });
  const sequences: { entity: number; ids: number[]; at: number }[] = [];
  for (const [doc, entity] of anchors) {
    const w = windows.get(doc) ?? { before: [], after: [] };
    sequences.push({ entity, ids: [...[...w.before].reverse(), doc, ...w.after], at: w.before.length });
  }
  const seen = new Map<number, number>();
  for (const s of sequences) for (const id of s.ids) seen.set(id, s.entity);
  yield* complete(seen.keys(), seen);

  const entityBest = new Map<number, number>();
  for (const s of sequences) for (const id of s.ids) entityBest.set(s.entity, Math.max(entityBest.get(s.entity) ?? 0, score(id)));
  const final = new Map<number, { entity: number; value: number }>();
  for (const s of sequences) {
    for (let i = Math.max(0, s.at - span); i <= Math.min(s.ids.length - 1, s.at + span); i++) {
      const id = s.ids[i]!;
      if (final.has(id)) continue;
      let value = score(id);
      tuning.neighbourWeights.forEach((w, k) => {
        const before = i - k - 1 >= 0 ? score(s.ids[i - k - 1]!) : 0;
        const after = i + k + 1 < s.ids.length ? score(s.ids[i + k + 1]!) : 0;
        value += w * Math.max(before, after);
      });
      value += tuning.entityShare * (entityBest.get(s.entity) ?? 0) + (entityScore.get(s.entity) ?? 0);
      if (value > 0) final.set(id, { entity: s.entity, value });
    }
  }
  // Best first; equal scores (an entity's observations found by its name, copies of one text): the one written last
  // first, then the one stored last.
  const times = yield* ask({ kind: "times", docs: [...final.keys()].sort((a, b) => a - b) });
  const ranked = [...final].sort((a, b) => b[1].value - a[1].value || (times.get(b[0]) ?? 0) - (times.get(a[0]) ?? 0) || b[0] - a[0]).slice(0, limit);
  const rows = yield* ask({ kind: "rows", docs: ranked.map(([d]) => d).sort((a, b) => a - b) });
  return ranked.flatMap(([doc, { value }]) => {
    const row = rows.get(doc);
    return row ? [{ entity: row.entity, entityType: row.entityType, observation: row.observation, score: Math.round(value * 1e4) / 1e4 }] : [];
  });
}

/** Drives `recallPlan` against a synchronous backend. */
export function runRecallSync(plan: Generator<Need, RecallResult[], unknown>, answer: (need: Need) => unknown): RecallResult[] {
  let step = plan.next();
  while (!step.done) step = plan.next(answer(step.value));
  return step.value;
}

/** Drives `recallPlan` against a backend that answers with promises. */
export async function runRecall(plan: Generator<Need, RecallResult[], unknown>, answer: (need: Need) => Promise<unknown>): Promise<RecallResult[]> {
  let step = plan.next();
  while (!step.done) step = plan.next(await answer(step.value));
  return step.value;
}
