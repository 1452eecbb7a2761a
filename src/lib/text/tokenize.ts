import { stem } from "./stem.ts";
import { isStopword } from "./stopwords.ts";

/**
 * Text → index terms, the same way for what is stored and for what is asked: lower-case (JavaScript's, as everywhere
 * in msm), accents folded (`Émile` → `emile`, so a query typed without them still finds the word), split into words
 * of letters and digits (an apostrophe inside a word stays: `don't`, `Caroline's`), stopwords dropped, the rest
 * stemmed with Snowball English. Digits are kept as they are (`2023`, `v2`).
 *
 * Scripts written without spaces (Chinese, Japanese) have no words to split on; each run of them becomes its
 * overlapping character pairs, the usual offline fallback, so `日本語` finds `日本語を話す`.
 */

/** Longer words are cut here: a term is an index key (a pasted hash or URL must not make a huge one). */
export const MAX_TERM_LENGTH = 64;

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;
/** Plain ASCII text (most of it) takes simpler expressions: no normalisation, no scripts to tell apart. */
const ASCII = /^[\x00-\x7f]*$/;
const ASCII_WORD = /[a-z0-9]+(?:'[a-z0-9]+)*/g;
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/u;
const UNSPACED_RUNS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu;
const MARKS = /\p{M}+/gu;
const DIGIT = /\d/;

/** Lower-cased, accents removed (NFKD, combining marks dropped), typographic apostrophes made plain. */
export function fold(text: string): string {
  const lower = text.toLowerCase();
  return ASCII.test(lower) ? lower : lower.normalize("NFKD").replace(MARKS, "").replaceAll("’", "'");
}

/** The words of a text, folded, in order; stopwords included. */
export function words(text: string): string[] {
  const folded = fold(text);
  if (ASCII.test(folded)) return folded.match(ASCII_WORD) ?? [];
  const out: string[] = [];
  for (const match of folded.matchAll(WORD)) {
    const word = match[0];
    if (UNSPACED.test(word)) {
      for (const part of word.match(UNSPACED_RUNS) ?? []) {
        if (!UNSPACED.test(part)) out.push(part);
        else if (part.length === 1) out.push(part);
        else for (let i = 0; i + 1 < part.length; i++) out.push(part.slice(i, i + 2));
      }
    } else out.push(word);
  }
  return out;
}

/** Stems already computed: words repeat (Zipf), and stemming is most of tokenizing. Emptied when full. */
const stems = new Map<string, string>();
const STEM_CACHE_SIZE = 50_000;

/** One word as an index term: stemmed unless it holds a digit, cut to MAX_TERM_LENGTH. */
export function termOf(word: string): string {
  let term = stems.get(word);
  if (term === undefined) {
    term = DIGIT.test(word) ? word : stem(word);
    if (term.length > MAX_TERM_LENGTH) term = term.slice(0, MAX_TERM_LENGTH);
    if (stems.size >= STEM_CACHE_SIZE) stems.clear();
    stems.set(word, term);
  }
  return term;
}

/** The index terms of a text, in order, repeats kept (their count is the term frequency). */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) {
    if (isStopword(word) || (word.endsWith("'s") && isStopword(word.slice(0, -2)))) continue;
    out.push(termOf(word));
  }
  return out;
}

/** Term → occurrences, and the number of terms (the document length BM25 normalises by). */
export function termCounts(text: string): { counts: Map<string, number>; length: number } {
  const counts = new Map<string, number>();
  const list = terms(text);
  for (const term of list) counts.set(term, (counts.get(term) ?? 0) + 1);
  return { counts, length: list.length };
}
