import { isRequest, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";

/**
 * The 2026-07-28 revision over streamable HTTP. It has no `initialize` and no session: every request carries its
 * protocol version, client info and capabilities in a `_meta` envelope, and the HTTP request repeats what the body
 * says in headers so gateways can route without reading it (SEP-2243): `MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name`, and `Mcp-Param-*` for tool arguments the tool's schema marks with `x-mcp-header`. Servers reject a
 * modern request whose headers are missing or disagree with the body (400, -32020). Over stdio an editor has no
 * headers to send, so the proxy derives them from the body — the same rule the SDK's own HTTP client follows — and
 * a message without an envelope (every earlier revision) gets none of them.
 */
export const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";

/** Which body field `Mcp-Name` mirrors, per method (SEP-2243 standard headers; SEP-2663 for tasks). */
const NAME_SOURCE: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The revision a request claims in its envelope, or undefined for a request of an earlier revision. */
export function envelopeVersion(message: JsonRpcMessage): string | undefined {
  if (!isRequest(message) || !isObject(message.params)) return undefined;
  const meta = message.params._meta;
  const version = isObject(meta) ? meta[PROTOCOL_VERSION_META_KEY] : undefined;
  return typeof version === "string" ? version : undefined;
}

/**
 * A header value as the revision encodes it: plain when it is safe visible ASCII without edge whitespace, otherwise
 * (or when it already looks like the sentinel) `=?base64?<utf-8 base64>?=`.
 */
export function encodeHeaderValue(value: string): string {
  const sentinel = value.startsWith("=?base64?") && value.endsWith("?=");
  const plain = value !== "" && !sentinel && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** One `x-mcp-header` declaration: where the argument sits and the header it is mirrored in. */
interface Declaration {
  path: string[];
  header: string;
}

/**
 * The `x-mcp-header` declarations of the tools the editor listed, learned from `tools/list` answers as they pass
 * through: a stdio editor knows the schemas but cannot put headers on the wire, so the proxy does it for it. A call
 * to a tool not seen yet goes without `Mcp-Param-*` headers, as the SDK's client does on a cache miss.
 */
export class ToolHeaders {
  private readonly tools = new Map<string, Declaration[]>();

  /**
   * Records the declarations of every tool in a `tools/list` result. With `exclude` (a 2026-07-28 exchange), tools
   * whose declarations break the revision's rules are removed from the result, as the revision requires of an HTTP
   * client: the editor on stdio never sees their headers and could not reject them itself. Returns their names.
   */
  learn(result: unknown, exclude = false): string[] {
    if (!isObject(result) || !Array.isArray(result.tools)) return [];
    const invalid: string[] = [];
    result.tools = result.tools.filter((tool: unknown) => {
      if (!isObject(tool) || typeof tool.name !== "string") return true;
      const declarations = scanDeclarations(tool.inputSchema);
      if (!declarations) {
        this.tools.delete(tool.name);
        if (exclude) invalid.push(tool.name);
        return !exclude;
      }
      if (declarations.length) this.tools.set(tool.name, declarations);
      else this.tools.delete(tool.name);
      return true;
    });
    return invalid;
  }

  /** The `Mcp-Param-*` headers for one `tools/call`: absent or non-primitive arguments send none. */
  forCall(params: unknown): Record<string, string> {
    const headers: Record<string, string> = {};
    if (!isObject(params) || typeof params.name !== "string") return headers;
    for (const { path, header } of this.tools.get(params.name) ?? []) {
      let value: unknown = params.arguments;
      for (const key of path) value = isObject(value) ? value[key] : undefined;
      const text = primitiveText(value);
      if (text !== undefined) headers[`mcp-param-${header.toLowerCase()}`] = encodeHeaderValue(text);
    }
    return headers;
  }
}

/** A primitive argument as header text (strings as they are, booleans lower-case, numbers in decimal); else undefined. */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? undefined : String(value);
}

/** RFC 9110 token: what a header name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Subschemas an `x-mcp-header` must never sit under: only chains of `properties` are statically reachable. */
const UNREACHABLE = [
  "items",
  "prefixItems",
  "contains",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
  "patternProperties",
  "dependentSchemas",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "$defs",
  "definitions",
];
const KEYED = new Set(["patternProperties", "dependentSchemas", "$defs", "definitions"]);

/**
 * A tool's `x-mcp-header` declarations, or undefined when one breaks the revision's rules (then the whole tool is
 * invalid): on a property reached through `properties` only, a non-empty token, a string, integer or boolean
 * property, unique regardless of case.
 */
export function scanDeclarations(schema: unknown): Declaration[] | undefined {
  const found: Declaration[] = [];
  const seen = new Set<string>();
  const visit = (node: unknown, path: string[], reachable: boolean): boolean => {
    if (!isObject(node)) return true;
    if ("x-mcp-header" in node) {
      const header = node["x-mcp-header"];
      if (!reachable || !path.length || typeof header !== "string" || !TOKEN.test(header)) return false;
      if (!["string", "integer", "boolean"].includes(node.type as string)) return false;
      if (seen.has(header.toLowerCase())) return false;
      seen.add(header.toLowerCase());
      found.push({ path, header });
    }
    if (isObject(node.properties)) for (const [key, child] of Object.entries(node.properties)) if (!visit(child, [...path, key], reachable)) return false;
    for (const keyword of UNREACHABLE) {
      const sub = node[keyword];
      if (sub === undefined) continue;
      const branches = Array.isArray(sub) ? sub : KEYED.has(keyword) && isObject(sub) ? Object.values(sub) : [sub];
      for (const branch of branches) if (!visit(branch, [...path, `<${keyword}>`], false)) return false;
    }
    return true;
  };
  return visit(schema, [], true) ? found : undefined;
}

/**
 * The headers the 2026-07-28 revision requires on a request, derived from its body; {} for a message without an
 * envelope claim, so no 2026 header ever rides on an exchange of an earlier revision.
 */
export function revisionHeaders(message: JsonRpcMessage, tools: ToolHeaders): Record<string, string> {
  const version = envelopeVersion(message);
  if (version === undefined) return {};
  const headers: Record<string, string> = { "mcp-protocol-version": version, "mcp-method": message.method! };
  const field = Object.hasOwn(NAME_SOURCE, message.method!) ? NAME_SOURCE[message.method!] : undefined;
  const name = field && isObject(message.params) ? message.params[field] : undefined;
  if (typeof name === "string") headers["mcp-name"] = encodeHeaderValue(name);
  if (message.method === "tools/call") Object.assign(headers, tools.forCall(message.params));
  return headers;
}
