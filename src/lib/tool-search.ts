/**
 * Offline tool search for a profile in `mode: "search"` (docs/profiles.md): a natural request ("show the last
 * commits") → the tools most likely to do it, ranked with BM25 over the words of each tool's name, its description,
 * its parameters' names and descriptions, and its target's name, stemmed (lib/text). No model, no network: an index
 * of a few hundred tools builds in about a millisecond, so it is rebuilt whenever a tool list changes.
 *
 * Each field is its own BM25 index and a tool's score is the weighted sum (a simple BM25F): a word in a tool's name
 * says more about what it does than the same word in a long description. The weights were chosen once on general
 * grounds and checked with `npm run bench -- tools` (bench/tools.bench.ts); they are not tuned per request.
 */
import { MemoryIndex, termCounts, terms } from "./text/index.ts";

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
type Field = keyof typeof FIELD_WEIGHTS;

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

/** The tools of a profile, indexed once; `search` ranks them for one request. */
export class ToolIndex {
  private readonly indexes = new Map<Field, MemoryIndex<number>>();

  constructor(
    readonly tools: readonly SearchableTool[],
    private readonly weights: Record<Field, number> = FIELD_WEIGHTS,
  ) {
    for (const field of Object.keys(weights) as Field[]) this.indexes.set(field, new MemoryIndex<number>(termCounts));
    tools.forEach((entry, i) => {
      const fields = toolFields(entry);
      for (const [field, index] of this.indexes) index.add(i, fields[field]);
    });
  }

  /** The best `limit` tools for `query`, best first; ties keep the order the tools were given in. Nothing matched: []. */
  search(query: string, limit: number): Found[] {
    const wanted = terms(identifierWords(query));
    if (!wanted.length) return [];
    const scores = new Map<number, number>();
    for (const [field, index] of this.indexes) {
      const weight = this.weights[field];
      for (const { id, score } of index.search(wanted)) scores.set(id, (scores.get(id) ?? 0) + weight * score);
    }
    return [...scores]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, limit)
      .map(([i, score]) => ({ tool: this.tools[i]!, score }));
  }
}
