import type { JSONRPCRequest, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import { LeanHttpTransport } from "../../lib/http/lean-transport.ts";
import type { SqliteSource } from "../source.ts";
import type { GraphSource } from "../types.ts";
import type { Subscriptions } from "./server.ts";
import { isPlainToolCall } from "./worker-calls.ts";

type Options = ConstructorParameters<typeof LeanHttpTransport>[0] & {
  /** Where each request's graph is; only SQLite databases have threads that answer whole calls. */
  databases: GraphSource;
  /** Told when a call answered on a thread changed its database. */
  subscriptions: Subscriptions;
};

/**
 * The memory daemon's transport: a held tools/call (see LeanHttpTransport) on a SQLite database is answered whole by
 * that database's worker thread (worker-calls.ts) — its body's bytes go in, the answer's bytes come out — so one
 * project's 4 MiB observation is never parsed, checked, copied or serialised on the event loop every other project
 * waits on. Everything else (and PostgreSQL, whose driver is asynchronous anyway) takes the session's own server.
 */
export class MemoryTransport extends LeanHttpTransport {
  private readonly databases: GraphSource;
  private readonly subscriptions: Subscriptions;

  constructor({ databases, subscriptions, ...options }: Options) {
    super(options);
    this.databases = databases;
    this.subscriptions = subscriptions;
  }

  protected override dispatch(message: JSONRPCRequest, raw: Uint8Array, extra: MessageExtraInfo): void {
    if (this.databases.backend !== "sqlite" || !isPlainToolCall(message)) return super.dispatch(message, raw, extra);
    let picked;
    try {
      // The request's project (requestProject) decides, as it would in the tool's handler.
      picked = (this.databases as SqliteSource).currentWithChoice();
    } catch {
      // A refused project: the session's server answers with the usual tool error.
      return super.dispatch(message, raw, extra);
    }
    const { store, choice } = picked;
    store.call(raw, { scope: choice.scope, why: choice.why, backend: "sqlite" }).then(
      (answer) => {
        // Arguments that fail their schema: the session's server words the error (nothing was run).
        if (!answer) return super.dispatch(message, raw, extra);
        if (answer.changed) this.subscriptions.changed(store.file);
        this.answer(message.id, answer.body);
      },
      (error: Error) => {
        // The worker failed or its database was closed under the call: a tool error, as the tool's handler gives.
        const result = { content: [{ type: "text", text: error.message }], isError: true };
        this.answer(message.id, new TextEncoder().encode(JSON.stringify({ result, jsonrpc: "2.0", id: message.id })));
      },
    );
  }
}
