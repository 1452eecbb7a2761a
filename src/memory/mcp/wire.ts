import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { serialise } from "../../lib/http/lean-transport.ts";
import { errorResponse, isRequest, type JsonRpcMessage } from "../../lib/jsonrpc/messages.ts";
import type { WireHelloInfo, WireLink, WireSession } from "../../lib/wire/server.ts";
import type { SqliteSource } from "../source.ts";
import { requestProject } from "../sqlite/databases.ts";
import type { GraphSource } from "../types.ts";
import { createMemoryServer, type Subscriptions } from "./server.ts";
import { isPlainToolCall } from "./worker-calls.ts";

/** The SDK server's side of a line-wire session: what it sends becomes a line on the proxy's connection. */
class LinkTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(private readonly link: WireLink) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    const m = message as JsonRpcMessage;
    const text = serialise(message);
    if (m.method === undefined && m.id !== undefined && m.id !== null) this.link.answer(m.id, text);
    else this.link.send(text);
  }

  async close(): Promise<void> {
    const onclose = this.onclose;
    this.onclose = undefined;
    onclose?.();
  }
}

/**
 * One memory session on the line wire: the session's own McpServer, as over HTTP, every message run in the project
 * the proxy's hello named (what `Mcp-Project-Path` says on every HTTP request). A plain tools/call on a SQLite
 * database is answered whole on that database's thread, its bytes in and out (as MemoryTransport does over HTTP).
 */
export function openMemoryWire(databases: GraphSource, subscriptions: Subscriptions, link: WireLink, hello: WireHelloInfo, closed: () => void): WireSession {
  const server: McpServer = createMemoryServer(databases, subscriptions);
  const transport = new LinkTransport(link);
  transport.onclose = () => subscriptions.forget(server);
  void server.connect(transport);
  let initialized = false;
  const project = hello.project;

  const viaServer = (message: JsonRpcMessage) => transport.onmessage?.(message as JSONRPCMessage);

  const dispatch = (message: JsonRpcMessage, raw: Uint8Array) => {
    if (isRequest(message)) {
      if (message.method === "initialize") initialized = true;
      else if (!initialized) {
        // As the HTTP transport answers a request outside a session (a 2026-07-28 client's probe, say).
        link.answer(message.id, JSON.stringify(errorResponse(message.id, -32000, "Bad Request: Server not initialized")));
        return;
      } else if (databases.backend === "sqlite" && isPlainToolCall(message)) return onThread(message, raw);
    }
    viaServer(message);
  };

  const onThread = (message: JsonRpcMessage & { id: string | number; method: string }, raw: Uint8Array) => {
    let picked: ReturnType<SqliteSource["currentWithChoice"]>;
    try {
      picked = (databases as SqliteSource).currentWithChoice();
    } catch {
      // A refused project: the session's server answers with the usual tool error.
      return viaServer(message);
    }
    const { store, choice } = picked;
    // The body goes to the thread by transfer: it must own its buffer, since a line shares its socket chunk with the
    // lines after it (a copy, not Buffer#slice, which is a view).
    const body = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : new Uint8Array(raw);
    store.call(body, { scope: choice.scope, why: choice.why, backend: "sqlite" }).then(
      (answer) => {
        // Arguments that fail their schema: the session's server words the error (nothing was run).
        if (!answer) return viaServer(message);
        if (answer.changed) subscriptions.changed(store.file);
        link.answerBytes(message.id, [answer.body]);
      },
      (error: Error) => {
        // The worker failed or its database was closed under the call: a tool error, as the tool's handler gives.
        const result = { content: [{ type: "text", text: error.message }], isError: true };
        link.answer(message.id, JSON.stringify({ result, jsonrpc: "2.0", id: message.id }));
      },
    );
  };

  return {
    message: (message, raw) => requestProject.run(project, () => dispatch(message, raw)),
    closed: () => {
      closed();
      void server.close().catch(() => {});
    },
  };
}
