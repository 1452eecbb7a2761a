/**
 * Offline text ranking shared by msm's features: words → terms (fold, stopwords, Snowball English stemming) and
 * BM25. Pure TypeScript with no imports beyond this folder, so a small process (the proxy) can load it cheaply.
 */
export { BM25, type Bm25Params, MemoryIndex, idf, maxTermScore, termFrequencyWeight } from "./bm25.ts";
export { stem } from "./stem.ts";
export { STOPWORDS, isStopword } from "./stopwords.ts";
export { MAX_TERM_LENGTH, fold, termCounts, termOf, terms, words } from "./tokenize.ts";
