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
 * Cost: the terms are read rarest first and the common ones only for documents that can still reach the pool
 * (MaxScore, Turtle & Flood 1995): "what did Caroline research" reads `research` whole but looks `carolin` up only
 * in the few hundred observations that hold `research`. Neighbours are read for the POOL best observations only.
 */
import { BM25, idf, termFrequencyWeight, terms as textTerms } from "../lib/text/index.ts";

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
/** Weight of the observations at distance 1, 2 from a match (½, ¼). */
const NEIGHBOUR_WEIGHTS = [0.5, 0.25];
const SPAN = NEIGHBOUR_WEIGHTS.length;
/** Share of the entity's best observation score every scored observation of it gets. */
const ENTITY_SHARE = 0.2;
/** How many observations, best by BM25, are looked at with their neighbours: plenty more than a page. */
const poolSize = (limit: number) => Math.max(50, 3 * limit);

/** An observation as the index knows it. */
export interface Posting {
  doc: number;
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
  /** The postings of `terms` within `docs` (documents not holding a term have none). */
  | { kind: "lookups"; terms: string[]; docs: number[] }
  /** The entity postings (doc = entity id) of `terms`. */
  | { kind: "entityPostings"; terms: string[] }
  /** Per document, the ids of the SPAN·2 observations before it (nearest first) and after it, in its entity. */
  | { kind: "windows"; docs: { doc: number; entity: number }[]; span: number }
  /** The newest `per` observations of each entity, newest first. */
  | { kind: "latest"; entities: number[]; per: number }
  /** Content, entity name and type of each document. */
  | { kind: "rows"; docs: number[] };

export type Answer<N extends Need> = N extends { kind: "stats" }
  ? RecallStats
  : N extends { kind: "entitiesOfTypes" }
    ? number[]
    : N extends { kind: "postings" } | { kind: "lookups" }
      ? (Posting & { term: string })[]
      : N extends { kind: "entityPostings" }
        ? (Posting & { term: string })[]
        : N extends { kind: "windows" }
          ? Map<number, { before: number[]; after: number[] }>
          : N extends { kind: "latest" }
            ? Map<number, number[]>
            : Map<number, { observation: string; entity: string; entityType: string }>;

/** The distinct terms of a question, in a fixed order (scores are summed in it: same order, same doubles). */
export function queryTerms(query: string): string[] {
  return [...new Set(textTerms(query))].sort();
}

/** The k-th largest value (1-based) of `values`, or -Infinity when there are fewer; does not reorder `values`. */
function kthLargest(values: Float64Array, k: number): number {
  if (values.length < k) return Number.NEGATIVE_INFINITY;
  const a = Float64Array.from(values);
  const target = k - 1;
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
}

type Ask = <N extends Need>(need: N) => Generator<N, Answer<N>, unknown>;
/** Yields a need and returns the backend's answer to it, typed. */
const ask: Ask = function* <N extends Need>(need: N) {
  return (yield need) as Answer<N>;
};

/**
 * The ranking, as a generator of needs: drive it with `runRecallSync` (SQLite, synchronous) or `runRecall` (a
 * backend that answers with promises). Returns the results, best first.
 */
export function* recallPlan(query: string, options: RecallOptions = {}): Generator<Need, RecallResult[], unknown> {
  const limit = Math.min(Math.max(1, Math.floor(options.limit ?? RECALL_DEFAULT_LIMIT)), RECALL_MAX_LIMIT);
  const wanted = queryTerms(query);
  if (wanted.length === 0) return [];
  const stats = yield* ask({ kind: "stats", terms: wanted });
  const allowed = options.entityTypes?.length
    ? new Set(yield* ask({ kind: "entitiesOfTypes", types: [...new Set(options.entityTypes.map((t) => t.toLowerCase()))].sort() }))
    : undefined;
  const ok = (entity: number) => !allowed || allowed.has(entity);
  const pool = poolSize(limit);

  // Observation terms, rarest first (ties by the term, so both backends take the same path).
  const byRarity = wanted.filter((t) => (stats.df.get(t) ?? 0) > 0).sort((a, b) => stats.df.get(a)! - stats.df.get(b)! || (a < b ? -1 : 1));
  const averageLength = stats.docs ? stats.length / stats.docs : 1;
  const weight = new Map(byRarity.map((t) => [t, idf(stats.docs, stats.df.get(t)!)]));
  const bound = byRarity.map((t) => weight.get(t)! * (BM25.k1 + 1));
  const boundFrom = bound.map((_, i) => bound.slice(i).reduce((a, b) => a + b, 0));

  const partial = new Map<number, number>();
  const entityOf = new Map<number, number>();
  /** Documents whose score is exact (every term counted); all of them once every term was read whole. */
  const exact = new Set<number>();
  const add = (p: Posting, term: string) => {
    entityOf.set(p.doc, p.entity);
    partial.set(p.doc, (partial.get(p.doc) ?? 0) + weight.get(term)! * termFrequencyWeight(p.tf, p.length, averageLength));
  };

  // MaxScore: read terms whole, rarest first, until no document holding none of them could reach the pool.
  let whole = 0;
  for (; whole < byRarity.length; whole++) {
    if (partial.size >= pool && kthLargest(Float64Array.from(partial.values()), pool) > boundFrom[whole]!) break;
    const term = byRarity[whole]!;
    for (const p of yield* ask({ kind: "postings", term })) if (ok(p.entity)) add(p, term);
  }
  const rest = byRarity.slice(whole);
  const restBound = rest.length ? boundFrom[whole]! : 0;
  /** Brings the given documents' scores up to exact by looking the remaining terms up in them. */
  function* complete(docs: Iterable<number>): Generator<Need, void, unknown> {
    const missing = [...docs].filter((d) => !exact.has(d));
    for (const d of missing) exact.add(d);
    if (rest.length === 0 || missing.length === 0) return;
    missing.sort((a, b) => a - b);
    const found = yield* ask({ kind: "lookups", terms: rest, docs: missing });
    // Summed in term order, as if every term had been read whole.
    const byTerm = new Map(rest.map((t) => [t, [] as Posting[]]));
    for (const p of found) byTerm.get(p.term)?.push(p);
    for (const term of rest) for (const p of byTerm.get(term)!) add(p, term);
  }
  if (rest.length === 0) for (const d of partial.keys()) exact.add(d);
  else {
    const threshold = kthLargest(Float64Array.from(partial.values()), pool);
    yield* complete([...partial].filter(([, score]) => score + restBound >= threshold).map(([doc]) => doc));
  }
  const score = (doc: number) => (exact.has(doc) ? (partial.get(doc) ?? 0) : 0);
  const best = [...exact].filter((d) => partial.has(d)).sort((a, b) => partial.get(b)! - partial.get(a)! || b - a);
  const anchors = new Map<number, number>(best.slice(0, pool).map((d) => [d, entityOf.get(d)!]));

  // Names and types: BM25 over entities; the best few bring their newest observations in.
  const entityScore = new Map<number, number>();
  const entityTerms = wanted.filter((t) => (stats.entityDf.get(t) ?? 0) > 0);
  if (entityTerms.length) {
    const averageNameLength = stats.entities ? stats.entityLength / stats.entities : 1;
    const byTerm = new Map(entityTerms.map((t) => [t, [] as Posting[]]));
    for (const p of yield* ask({ kind: "entityPostings", terms: entityTerms })) if (ok(p.doc)) byTerm.get(p.term)?.push(p);
    for (const term of entityTerms) {
      const w = idf(stats.entities, stats.entityDf.get(term)!);
      for (const p of byTerm.get(term)!) entityScore.set(p.doc, (entityScore.get(p.doc) ?? 0) + w * termFrequencyWeight(p.tf, p.length, averageNameLength));
    }
    const top = [...entityScore].sort((a, b) => b[1] - a[1] || b[0] - a[0]).slice(0, limit);
    if (top.length) {
      const latest = yield* ask({ kind: "latest", entities: top.map(([e]) => e).sort((a, b) => a - b), per: limit });
      for (const [entity, docs] of latest) for (const d of docs) if (!anchors.has(d)) anchors.set(d, entity);
    }
  }
  if (anchors.size === 0) return [];

  // Neighbours: each anchor's window of 2·SPAN on each side places every document within SPAN of it and theirs.
  const windows = yield* ask({
    kind: "windows",
    docs: [...anchors].map(([doc, entity]) => ({ doc, entity })).sort((a, b) => a.doc - b.doc),
    span: 2 * SPAN,
  });
  const sequences: { entity: number; ids: number[]; at: number }[] = [];
  for (const [doc, entity] of anchors) {
    const w = windows.get(doc) ?? { before: [], after: [] };
    sequences.push({ entity, ids: [...[...w.before].reverse(), doc, ...w.after], at: w.before.length });
  }
  const seen = new Set<number>();
  for (const s of sequences) for (const id of s.ids) seen.add(id);
  yield* complete(seen);

  const entityBest = new Map<number, number>();
  for (const s of sequences) for (const id of s.ids) entityBest.set(s.entity, Math.max(entityBest.get(s.entity) ?? 0, score(id)));
  const final = new Map<number, { entity: number; value: number }>();
  for (const s of sequences) {
    for (let i = Math.max(0, s.at - SPAN); i <= Math.min(s.ids.length - 1, s.at + SPAN); i++) {
      const id = s.ids[i]!;
      if (final.has(id)) continue;
      let value = score(id);
      NEIGHBOUR_WEIGHTS.forEach((w, k) => {
        const before = i - k - 1 >= 0 ? score(s.ids[i - k - 1]!) : 0;
        const after = i + k + 1 < s.ids.length ? score(s.ids[i + k + 1]!) : 0;
        value += w * Math.max(before, after);
      });
      value += ENTITY_SHARE * (entityBest.get(s.entity) ?? 0) + (entityScore.get(s.entity) ?? 0);
      if (value > 0) final.set(id, { entity: s.entity, value });
    }
  }
  // Best first; equal scores: the newer observation first (ids grow with time on both backends).
  const ranked = [...final].sort((a, b) => b[1].value - a[1].value || b[0] - a[0]).slice(0, limit);
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
