/**
 * A profile in `mode: "search"` (docs/profiles.md "Search mode"): the editor's model sees two tools instead of every
 * target's, and finds the one it needs by describing what it wants to do. Ranking is lib/tool-search.ts (BM25 over
 * stemmed words, offline).
 */
import { type SearchableTool, ToolIndex } from "../../lib/tool-search.ts";

type Json = Record<string, unknown>;

export const FIND_TOOLS = "find_tools";
export const CALL_TOOL = "call_tool";
export const DEFAULT_LIMIT = 5;
export const MAX_LIMIT = 20;
/** With nothing matched, the names of every tool are listed instead, when there are at most this many. */
const LIST_ALL_UP_TO = 200;

/** The two tools a search-mode session lists. */
export function searchTools(targets: readonly string[]): Json[] {
  return [
    {
      name: FIND_TOOLS,
      description:
        `Find the tools for a task among the tools of ${targets.join(", ")}. Describe what you want to do in a few words ` +
        `("read a file", "show the last commits"); the best matching tools come back with their names, descriptions ` +
        `and input schemas. Then use ${CALL_TOOL} with one of those names.`,
      inputSchema: {
        type: "object",
        properties: {
          query: { type: "string", description: "What you want to do, in a few words" },
          limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT, description: `How many tools to return (default ${DEFAULT_LIMIT})` },
        },
        required: ["query"],
      },
      annotations: { readOnlyHint: true },
    },
    {
      name: CALL_TOOL,
      description: `Call a tool that ${FIND_TOOLS} returned, by its name, with arguments that follow its input schema.`,
      inputSchema: {
        type: "object",
        properties: {
          name: { type: "string", description: `The tool's name, as ${FIND_TOOLS} gave it` },
          arguments: { type: "object", description: "The tool's arguments, as its input schema asks" },
        },
        required: ["name"],
      },
    },
  ];
}

/** A tool call's result holding one text. */
export function textResult(text: string, isError = false): Json {
  return { content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) };
}

/** The index over the tools the session may call, rebuilt when a target's list changed (`signature` says). */
export class SearchIndex {
  private index: ToolIndex | undefined;
  private signature = "";

  search(tools: SearchableTool[], signature: string, query: string, limit: number): Json {
    if (!this.index || signature !== this.signature) {
      this.index = new ToolIndex(tools);
      this.signature = signature;
    }
    const found = this.index.search(query, limit);
    if (!found.length) {
      const names = tools.length <= LIST_ALL_UP_TO ? ` The tools are: ${tools.map((t) => t.name).join(", ")}.` : "";
      return textResult(`No tool matched "${query}"; try other words.${names}`);
    }
    const shown = found.map(({ tool: { name, target, tool } }) => ({
      name,
      target,
      ...(typeof tool.title === "string" ? { title: tool.title } : {}),
      ...(typeof tool.description === "string" ? { description: tool.description } : {}),
      inputSchema: tool.inputSchema ?? { type: "object" },
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
    }));
    return textResult(JSON.stringify({ tools: shown }));
  }
}

/** find_tools' arguments, or what is wrong with them. */
export function findArguments(args: unknown): { query: string; limit: number } | { problem: string } {
  const a = (args ?? {}) as Json;
  if (typeof a.query !== "string" || !a.query.trim()) return { problem: `${FIND_TOOLS} needs "query": a few words of what you want to do` };
  const raw = a.limit;
  const limit = typeof raw === "number" && Number.isFinite(raw) ? Math.max(1, Math.min(MAX_LIMIT, Math.floor(raw))) : DEFAULT_LIMIT;
  return { query: a.query, limit };
}
