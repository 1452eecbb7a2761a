// Whole tools/call requests answered on a database's worker thread (sqlite/worker.ts): body in, answer out, as bytes.
//
// Why: the daemon's event loop serves every project. A 4 MiB observation used to cross it several times — cloned to
// the worker and back (postMessage copies strings), zod-checked, pretty-printed into the answer's text, serialised
// with it into an 8 MiB JSON body — ~150 ms during which every other project's call waited. Here the tool runs on
// its database's own thread instead, and the event loop only passes the request's bytes in and the answer's bytes
// out, both transferred, not copied.
//
// Same answers, byte for byte, as the session's McpServer gives (tests/unit/memory-worker-calls.test.ts): the same
// tool table (tools.ts), its input schemas applied as McpServer applies them (zod mini objects of the same shapes),
// the same tool-error wording, the same JSON-RPC framing. A request whose arguments fail their schema is handed
// back untouched, for the session's server to word the validation error exactly as the SDK does. The SDK itself is
// not loaded here: it would cost every database's thread ~6 MB and ~40 ms at start.
import * as zm from "zod/v4-mini";
import type { Graph, GraphSource, StoreChoice } from "../types.ts";
import { TOOLS, type ToolContext, type ToolResult } from "./tools.ts";

/** What a call answered here sends back: the JSON-RPC response as UTF-8 bytes, and whether it changed the graph. */
export interface CallAnswer {
  body: Uint8Array;
  changed: boolean;
}

/** The tools/call requests a thread answers (see `isPlainToolCall`). */
export interface PlainToolCall {
  jsonrpc: "2.0";
  id: string | number;
  method: "tools/call";
  params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> };
}

const TOOL_NAMES = new Set(TOOLS.map((tool) => tool.name));
const RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task";

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A call of one of memory's tools with nothing the SDK would treat specially: params as CallToolRequestSchema wants
 * them, no task augmentation, no progress token, no related task. Everything else takes the session's server.
 */
export function isPlainToolCall(message: { method: string; params?: unknown }): message is PlainToolCall {
  if (message.method !== "tools/call" || !isPlainObject(message.params)) return false;
  const { name, arguments: args, task, _meta } = message.params;
  if (typeof name !== "string" || !TOOL_NAMES.has(name) || task !== undefined) return false;
  if (args !== undefined && !isPlainObject(args)) return false;
  return _meta === undefined || (isPlainObject(_meta) && _meta.progressToken === undefined && !(RELATED_TASK_META_KEY in _meta));
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Answers plain tool calls against `graph()`, this thread's open store (its errors already worded as the daemon
 * words them). Resolves undefined for a call whose arguments fail their schema.
 */
export function createCallRunner(graph: () => Graph) {
  let choice: StoreChoice = { scope: "home", why: "", backend: "sqlite" };
  let wrote = false;
  const databases: GraphSource = { backend: "sqlite", current: graph, currentWithChoice: () => ({ store: graph(), choice }), closeAll: () => {} };
  const ctx: ToolContext = {
    databases,
    mutate: async (fn) => {
      const result = await fn(graph());
      wrote = true;
      return result;
    },
  };
  const tools = new Map(TOOLS.map((tool) => [tool.name, { tool, input: zm.object(tool.config.inputSchema), output: zm.object(tool.config.outputSchema) }]));

  /** `body`: the HTTP body, a PlainToolCall; `why`: where the daemon found this database (memory_stats says so). */
  return async (body: Uint8Array, why: StoreChoice): Promise<CallAnswer | undefined> => {
    const request = JSON.parse(decoder.decode(body)) as PlainToolCall;
    const { name } = request.params;
    const entry = tools.get(name);
    if (!entry) return undefined;
    const input = await zm.safeParseAsync(entry.input, request.params.arguments ?? {});
    if (!input.success) return undefined;
    choice = why;
    wrote = false;
    let result: ToolResult | { content: { type: "text"; text: string }[]; isError: true };
    try {
      result = await entry.tool.run(input.data, ctx);
      const output = await zm.safeParseAsync(entry.output, result.structuredContent);
      if (!output.success) {
        // Never expected (the tools' answers fit their schemas); worded as McpServer's validateToolOutput words it.
        const issues = output.error.issues.map((i) => (i.path.length ? `${i.message} at ${i.path.join(".")}` : i.message)).join("\n");
        throw new Error(`MCP error -32602: Output validation error: Invalid structured content for tool ${name}: ${issues}`);
      }
    } catch (error) {
      // McpServer's createToolError.
      result = { content: [{ type: "text", text: error instanceof Error ? error.message : String(error) }], isError: true };
    }
    // Protocol's response framing, key order included.
    return { body: encoder.encode(JSON.stringify({ result, jsonrpc: "2.0", id: request.id })), changed: wrote };
  };
}
