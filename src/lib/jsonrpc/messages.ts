/** JSON-RPC 2.0 as MCP uses it: what the proxy and the host must recognise to route, answer and validate messages. */

export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: JsonRpcId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
/** Server-defined range (-32000…-32099): msm's own "the MCP server could not answer this" errors. */
export const UPSTREAM_ERROR = -32000;

export function errorResponse(id: JsonRpcId | null, code: number, message: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

export const isRequest = (m: JsonRpcMessage): m is JsonRpcMessage & { id: JsonRpcId; method: string } =>
  typeof m.method === "string" && m.id !== undefined && m.id !== null;
export const isNotification = (m: JsonRpcMessage) => typeof m.method === "string" && m.id === undefined;
export const isResponse = (m: JsonRpcMessage) => m.method === undefined && ("result" in m || "error" in m);

/** A JSON-RPC id msm can route: a string or a finite number (null only answers what could not be read). */
export const isId = (v: unknown): v is JsonRpcId => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));

/** Why a parsed value is not a JSON-RPC message, or undefined when it is one. */
export function invalidReason(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "a message must be a JSON object";
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== "2.0") return '"jsonrpc" must be "2.0"';
  if ("params" in m && (typeof m.params !== "object" || m.params === null)) return '"params" must be an object or an array';
  if ("method" in m) {
    if (typeof m.method !== "string" || m.method === "") return '"method" must be a non-empty string';
    // MCP: "Unlike base JSON-RPC, the ID MUST NOT be null."
    if ("id" in m && !isId(m.id)) return '"id" must be a string or a number';
    return undefined;
  }
  const hasResult = "result" in m;
  const hasError = "error" in m;
  if (hasResult === hasError) return "a message needs a method, or exactly one of result and error";
  if (hasResult && !isId(m.id)) return '"id" must be a string or a number';
  if (hasError && m.id !== null && !isId(m.id)) return '"id" must be a string, a number or null';
  return undefined;
}

export interface ParsedLine {
  /** Valid messages, batches already split (each is forwarded and answered on its own). */
  messages: JsonRpcMessage[];
  /** Answers the proxy owes the editor right away: -32700 for bad JSON, -32600 for invalid messages. */
  errors: JsonRpcMessage[];
  /**
   * The line itself when it is exactly the one message in `messages`: forwarded as is, never serialised again
   * (re-serialising costs a copy of every large message, and throws on nesting that JSON.parse accepted).
   */
  raw?: string;
}

/**
 * One stdin line → messages. A JSON-RPC batch is split: MCP 2025-06-18 removed batches from the protocol, so a
 * daemon may refuse them, and stdio clients (the SDK's included) read one message per line, not arrays.
 */
export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { messages: [], errors: [errorResponse(null, PARSE_ERROR, "Parse error: the line is not valid JSON")] };
  }
  const out: ParsedLine = { messages: [], errors: [] };
  if (Array.isArray(value) && value.length === 0) {
    out.errors.push(errorResponse(null, INVALID_REQUEST, "Invalid Request: empty batch"));
    return out;
  }
  for (const item of Array.isArray(value) ? value : [value]) {
    const reason = invalidReason(item);
    if (reason === undefined) {
      out.messages.push(item as JsonRpcMessage);
      continue;
    }
    const id = typeof item === "object" && item !== null && isId((item as { id?: unknown }).id) ? (item as { id: JsonRpcId }).id : null;
    out.errors.push(errorResponse(id, INVALID_REQUEST, `Invalid Request: ${reason}`));
  }
  if (!Array.isArray(value) && out.messages.length === 1) out.raw = line;
  return out;
}

/** Parses what a server sent (one message or a batch) into single messages; undefined when it is not JSON. */
export function parseServerText(text: string): JsonRpcMessage[] | undefined {
  try {
    const value = JSON.parse(text);
    return (Array.isArray(value) ? value : [value]).filter((m) => typeof m === "object" && m !== null);
  } catch {
    return undefined;
  }
}
