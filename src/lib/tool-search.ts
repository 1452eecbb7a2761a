/**
 * Offline tool search for a profile in `mode: "search"` (docs/profiles.md): a natural request ("show the last
 * commits") → the tools most likely to do it. No model, no network: an index of a few hundred tools builds in about a
 * millisecond, so it is rebuilt whenever a tool list changes.
 *
 * Ranking is BM25F over four fields of each tool — the words of its name (snake_case and camelCase split), its
 * description, its parameters' names and descriptions, and its target's name — with lib/text's stopwords and Snowball
 * stemming; a literal URL or file name in the request counts as the word "url" or "file", and a few groups of
 * everyday synonyms ("folder" for "directory") match at half weight. What each choice adds, and what was tried
 * instead, is measured by `npm run bench -- tools` (bench/tools.bench.ts) on a labelled set and on a held-out set
 * written after these choices were fixed; nothing is tuned per request.
 */
import { BM25, idf, termCounts, termFrequencyWeight, terms } from "./text/index.ts";

/** How much a match in each field counts. */
export const FIELD_WEIGHTS = {
  /** The tool's own name, split into words (`read_text_file`, `getCurrentTime`). */
  name: 3,
  /** The target's name: "git", "time" — often the word a request names. */
  target: 1.5,
  description: 1,
  /** The names of its parameters, split into words, and their descriptions (nested objects' too). */
  parameters: 0.5,
};
export type Field = keyof typeof FIELD_WEIGHTS;

/** A tool as the index sees it: the name the session calls it by, its target, and its definition as listed. */
export interface SearchableTool {
  name: string;
  target: string;
  tool: Record<string, unknown>;
}

export interface Found {
  tool: SearchableTool;
  score: number;
}

/**
 * The words of an identifier: `read_text_file` → "read text file", `getCurrentTime` → "get Current Time",
 * `HTMLParser` → "HTML Parser", `list-allowed-directories` → "list allowed directories". Digits stay with their word.
 */
export function identifierWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/[_\-./:]+/g, " ");
}

/**
 * A request as the index reads it: a literal URL stands for the word "url" and a file name (`package.json`,
 * `src/main.py`) for "file". Tools describe the kind of thing they take, not any one value of it, and the pieces of
 * a literal (`json`, `example`, `com`) would only match unrelated words.
 */
export function requestText(query: string): string {
  return identifierWords(
    query.replace(/\b(?:https?:\/\/|www\.)\S+/gi, " url ").replace(/(?<=^|\s)(?:[\w.-]*\/)*[\w-]+\.[A-Za-z][A-Za-z0-9]{0,4}(?=$|\s|[,;:!?])/g, " file "),
  );
}

/**
 * Words people use for the same thing when they ask a tool for something, and the words tools are described with:
 * a request says "folder", a filesystem server says "directory". Groups of everyday words for what MCP tools do
 * (files, version control, the web, notes and memory, time, media, data). Written by hand after the labelled set's
 * misses showed that words, not weights, were what BM25 lacked — so that set's score with it is optimistic;
 * bench/tools.bench.ts also measures a held-out set written after the ranker was fixed, and the ranker without it.
 * A word of a group also matches the others of its group, at EXPANSION_WEIGHT.
 */
export const SYNONYMS: readonly string[][] = [
  ["directory", "folder", "dir"],
  ["file", "document", "doc"],
  ["delete", "remove", "erase", "forget", "drop", "discard", "unlink"],
  ["create", "make", "new"],
  ["read", "open", "view", "display", "load"],
  ["write", "save", "store", "persist"],
  ["edit", "modify", "change", "update", "patch", "replace"],
  ["search", "find", "lookup", "query", "locate"],
  ["list", "enumerate", "ls"],
  ["fetch", "download", "retrieve", "grab", "scrape", "crawl"],
  ["url", "link", "website", "webpage", "site", "web", "internet", "http", "https"],
  ["image", "picture", "photo", "screenshot", "pic", "png", "jpeg"],
  ["audio", "sound", "voice", "clip"],
  ["diff", "difference", "compare", "comparison"],
  ["log", "history"],
  ["commit", "revision"],
  ["checkout", "switch"],
  ["observation", "fact", "note", "remember", "memorize"],
  ["entity", "node", "thing", "item"],
  ["relation", "relationship", "connection", "link", "associate"],
  ["timezone", "zone", "tz"],
  ["convert", "translate", "transform"],
  ["compress", "zip", "gzip", "archive"],
  ["environment", "env"],
  ["sum", "add", "plus", "total"],
  ["echo", "repeat"],
  ["rename", "move"],
  ["size", "big", "large", "small"],
  ["error", "fail", "failure", "exception"],
  ["elicit", "elicitation", "ask", "prompt", "question"],
  ["sample", "sampling", "llm", "model", "generate", "completion"],
  ["metadata", "info", "information", "detail", "stat", "stats"],
];
/** How much a synonym's match counts against the word the request used. */
export const EXPANSION_WEIGHT = 0.5;

/** Each stemmed word of SYNONYMS → the other stemmed words of its groups. */
const EXPANSIONS: Map<string, Set<string>> = (() => {
  const map = new Map<string, Set<string>>();
  for (const group of SYNONYMS) {
    const stems = [...new Set(group.flatMap((word) => terms(word)))];
    for (const stem of stems) {
      const others = map.get(stem) ?? new Set<string>();
      for (const other of stems) if (other !== stem) others.add(other);
      map.set(stem, others);
    }
  }
  return map;
})();

/** A request's terms with their weights: its own at 1, their synonyms' at EXPANSION_WEIGHT. */
export function queryTerms(terms: string[], expand = true): Map<string, number> {
  const weights = new Map<string, number>();
  for (const term of terms) weights.set(term, 1);
  if (!expand) return weights;
  for (const term of terms) for (const other of EXPANSIONS.get(term) ?? []) if (!weights.has(other)) weights.set(other, EXPANSION_WEIGHT);
  return weights;
}

/** The text of each field of one tool. */
export function toolFields(entry: SearchableTool): Record<Field, string> {
  const { tool } = entry;
  const name = typeof tool.name === "string" ? tool.name : entry.name;
  const title = typeof tool.title === "string" ? ` ${tool.title}` : "";
  const annotationsTitle =
    tool.annotations && typeof tool.annotations === "object" && typeof (tool.annotations as { title?: unknown }).title === "string"
      ? ` ${(tool.annotations as { title: string }).title}`
      : "";
  return {
    name: identifierWords(name) + title + annotationsTitle,
    target: identifierWords(entry.target),
    description: typeof tool.description === "string" ? tool.description : "",
    parameters: parameterText(tool.inputSchema, 0),
  };
}

/** Parameter names (as words) and descriptions, nested object properties and array items included, a few levels deep. */
function parameterText(schema: unknown, depth: number): string {
  if (!schema || typeof schema !== "object" || depth > 3) return "";
  const node = schema as Record<string, unknown>;
  const parts: string[] = [];
  const properties = node.properties;
  if (properties && typeof properties === "object" && !Array.isArray(properties)) {
    for (const [key, child] of Object.entries(properties)) {
      parts.push(identifierWords(key));
      const description = child && typeof child === "object" ? (child as { description?: unknown }).description : undefined;
      if (typeof description === "string") parts.push(description);
      parts.push(parameterText(child, depth + 1));
    }
  }
  if (node.items) parts.push(parameterText(node.items, depth + 1));
  return parts.filter(Boolean).join(" ");
}

/** Text → terms, for what is indexed and for what is asked (lib/text's by default; the benchmark compares others). */
export interface Analyzer {
  counts: (text: string) => { counts: Map<string, number>; length: number };
  terms: (text: string) => string[];
}
export const STEMMED: Analyzer = { counts: termCounts, terms };

/** How the fields' matches make one score: BM25F (one saturation over the weighted fields), or one BM25 per field, summed. */
export type Combine = "bm25f" | "sum";

/** The ranker's choices; the defaults are msm's, the others are there for the benchmark's comparison. */
export interface RankOptions {
  weights?: Record<Field, number>;
  analyzer?: Analyzer;
  combine?: Combine;
  /** Read literal URLs and file names in a request as "url" and "file" (requestText). */
  literals?: boolean;
  /** Let a request's words match their SYNONYMS. */
  synonyms?: boolean;
}

interface Posting {
  doc: number;
  /** The term's count in each field, in FIELDS order. */
  tf: number[];
}

const FIELDS = Object.keys(FIELD_WEIGHTS) as Field[];

/**
 * The tools of a profile, indexed once; `search` ranks them for one request. Scored with BM25F (Robertson and
 * Zaragoza's BM25 for fields): a term's count in each field is length-normalised against that field's average,
 * weighted, summed, and only then saturated, with one idf per term. A word that appears in a tool's name and again in
 * its description counts more than once, but not as two separate full matches — summing a BM25 per field (`"sum"`,
 * kept for the benchmark's comparison) lets a short name field outweigh everything else.
 */
export class ToolIndex {
  private readonly postings = new Map<string, Posting[]>();
  private readonly lengths: number[][] = [];
  private readonly average: number[];

  private readonly weights: Record<Field, number>;
  private readonly analyzer: Analyzer;
  private readonly options: Required<Omit<RankOptions, "weights" | "analyzer">>;

  constructor(
    readonly tools: readonly SearchableTool[],
    options: RankOptions = {},
  ) {
    const analyzer = (this.analyzer = options.analyzer ?? STEMMED);
    this.weights = options.weights ?? FIELD_WEIGHTS;
    this.options = { combine: options.combine ?? "bm25f", literals: options.literals ?? true, synonyms: options.synonyms ?? true };
    const totals = FIELDS.map(() => 0);
    tools.forEach((entry, doc) => {
      const fields = toolFields(entry);
      const perTerm = new Map<string, number[]>();
      const lengths = FIELDS.map((field, f) => {
        const { counts, length } = analyzer.counts(fields[field]);
        for (const [term, tf] of counts) {
          let row = perTerm.get(term);
          if (!row) perTerm.set(term, (row = FIELDS.map(() => 0)));
          row[f] = tf;
        }
        totals[f]! += length;
        return length;
      });
      this.lengths.push(lengths);
      for (const [term, tf] of perTerm) {
        let list = this.postings.get(term);
        if (!list) this.postings.set(term, (list = []));
        list.push({ doc, tf });
      }
    });
    this.average = totals.map((total) => (tools.length ? total / tools.length : 1) || 1);
  }

  /** The best `limit` tools for `query`, best first; ties keep the order the tools were given in. Nothing matched: []. */
  search(query: string, limit: number): Found[] {
    const wanted = queryTerms(this.analyzer.terms(this.options.literals ? requestText(query) : identifierWords(query)), this.options.synonyms);
    const scores = new Map<number, number>();
    const { k1, b } = BM25;
    for (const [term, weight] of wanted) {
      const list = this.postings.get(term);
      if (!list) continue;
      const termIdf = weight * idf(this.tools.length, list.length);
      for (const { doc, tf } of list) {
        let score = 0;
        if (this.options.combine === "bm25f") {
          let weighted = 0;
          FIELDS.forEach((field, f) => {
            if (tf[f]) weighted += (this.weights[field] * tf[f]!) / (1 - b + (b * this.lengths[doc]![f]!) / this.average[f]!);
          });
          score = (termIdf * weighted * (k1 + 1)) / (k1 + weighted);
        } else {
          FIELDS.forEach((field, f) => {
            score += this.weights[field] * termIdf * termFrequencyWeight(tf[f]!, this.lengths[doc]![f]!, this.average[f]!);
          });
        }
        scores.set(doc, (scores.get(doc) ?? 0) + score);
      }
    }
    return [...scores]
      .filter(([, score]) => score > 0)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, limit)
      .map(([i, score]) => ({ tool: this.tools[i]!, score }));
  }
}
