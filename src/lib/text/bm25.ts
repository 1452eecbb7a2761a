/**
 * Okapi BM25, the pieces any index needs: how rare a term is (idf) and how much one document's occurrences of it
 * count (the saturating, length-normalised term frequency). Plain arithmetic on integers the caller counted, so two
 * stores that count the same get bit-for-bit the same scores, whatever database holds the counts.
 */

export interface Bm25Params {
  /** Term-frequency saturation: how fast repeats stop adding (1.2, as Lucene and SQLite FTS5). */
  k1: number;
  /** Length normalisation: 0 ignores document length, 1 divides by it fully (0.75, as Lucene and FTS5). */
  b: number;
}

export const BM25: Bm25Params = { k1: 1.2, b: 0.75 };

/**
 * Lucene's idf: ln(1 + (N − df + 0.5) / (df + 0.5)). Unlike the original Robertson–Spärck Jones form it never goes
 * negative, so a word found in more than half the documents still counts a little instead of pushing them down.
 */
export function idf(documents: number, documentFrequency: number): number {
  return Math.log(1 + (documents - documentFrequency + 0.5) / (documentFrequency + 0.5));
}

/** The weight of `tf` occurrences in a document of `length` terms, when documents average `averageLength`. */
export function termFrequencyWeight(tf: number, length: number, averageLength: number, params: Bm25Params = BM25): number {
  if (tf <= 0) return 0;
  const norm = params.k1 * (1 - params.b + (params.b * length) / (averageLength > 0 ? averageLength : 1));
  return (tf * (params.k1 + 1)) / (tf + norm);
}

/** The most one term can add to any document: idf × (k1 + 1), for pruning documents that cannot reach a top k. */
export function maxTermScore(termIdf: number, params: Bm25Params = BM25): number {
  return termIdf * (params.k1 + 1);
}

/**
 * A small in-memory BM25 index over documents with one text each, for callers that hold everything in memory (a
 * list of tools, a test corpus): add documents, then ask for the best `limit` by score, ties by insertion order.
 */
export class MemoryIndex<Id> {
  private readonly docs: { id: Id; length: number }[] = [];
  private readonly postings = new Map<string, { doc: number; tf: number }[]>();
  private totalLength = 0;

  constructor(
    private readonly analyze: (text: string) => { counts: Map<string, number>; length: number },
    private readonly params: Bm25Params = BM25,
  ) {}

  get size(): number {
    return this.docs.length;
  }

  add(id: Id, text: string): void {
    const { counts, length } = this.analyze(text);
    const doc = this.docs.length;
    this.docs.push({ id, length });
    this.totalLength += length;
    for (const [term, tf] of counts) {
      let list = this.postings.get(term);
      if (!list) this.postings.set(term, (list = []));
      list.push({ doc, tf });
    }
  }

  /** Every document holding at least one of `queryTerms` (distinct terms), with its BM25 score, best first. */
  search(queryTerms: Iterable<string>, limit = Number.POSITIVE_INFINITY): { id: Id; score: number }[] {
    const n = this.docs.length;
    const average = n ? this.totalLength / n : 1;
    const scores = new Map<number, number>();
    for (const term of new Set(queryTerms)) {
      const list = this.postings.get(term);
      if (!list) continue;
      const weight = idf(n, list.length);
      for (const { doc, tf } of list) {
        scores.set(doc, (scores.get(doc) ?? 0) + weight * termFrequencyWeight(tf, this.docs[doc]!.length, average, this.params));
      }
    }
    return [...scores]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, limit)
      .map(([doc, score]) => ({ id: this.docs[doc]!.id, score }));
  }
}
