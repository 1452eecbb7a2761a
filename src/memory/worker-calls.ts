// Whole tools/call messages answered on a database's worker thread (store-worker.ts), body in, answer out, as bytes.
//
// Why: the daemon's event loop serves every project. A 4 MiB observation used to cross it several times — copied to
// the worker and back (postMessage clones strings), zod-checked, pretty-printed into the answer's text, serialised
// with it into an 8 MiB JSON body — ~150 ms during which every other project's call waited. Here the same McpServer
// code (createMemoryServer: the same schemas, limits, errors and answers) runs on the database's own thread instead;
// the event loop only passes the request's bytes in and the answer's bytes out, both transferred, not copied.
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Graph, GraphSource, StoreChoice } from "./backend.ts";
import { createMemoryServer, Subscriptions } from "./server.ts";

/** What a call answered here sends back: the JSON-RPC response as UTF-8 bytes, and whether it changed the graph. */
export interface CallAnswer {
  body: Uint8Array;
  changed: boolean;
}

/** Records that a call wrote, for the daemon to tell the sessions subscribed to this database. */
class Changes extends Subscriptions {
  wrote = false;
  override changed(): void {
    this.wrote = true;
  }
}

/**
 * The receiving end of the SDK's server on this thread: each message goes in, its response is caught on the way
 * out. Calls run one at a time (the worker queues them), so a JSON-RPC id, which is only unique per session, cannot
 * collide here. Anything else the server might send about a call (memory's tools send nothing) is dropped.
 */
class CallTransport implements Transport {
  onmessage?: Transport["onmessage"];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly waiting = new Map<RequestId, (message: JSONRPCMessage) => void>();

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    if ("id" in message && ("result" in message || "error" in message)) this.waiting.get(message.id as RequestId)?.(message);
  }

  call(request: JSONRPCMessage & { id: RequestId }): Promise<JSONRPCMessage> {
    return new Promise((resolve) => {
      this.waiting.set(request.id, (response) => {
        this.waiting.delete(request.id);
        resolve(response);
      });
      this.onmessage?.(request);
    });
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A server for this thread's database; `graph()` is the open store (errors already worded as the daemon words them). */
export function createCallServer(graph: () => Graph) {
  let choice: StoreChoice = { scope: "home", why: "", backend: "sqlite" };
  const source: GraphSource = {
    backend: "sqlite",
    current: graph,
    currentWithChoice: () => ({ store: graph(), choice }),
    closeAll: () => {},
  };
  const changes = new Changes();
  const server = createMemoryServer(source, changes);
  const transport = new CallTransport();
  const connected = server.connect(transport);

  /** Answers one request: `body` is the HTTP body as received, `why` where the daemon found its database (memory_stats). */
  return async (body: Uint8Array, why: StoreChoice): Promise<CallAnswer> => {
    await connected;
    choice = why;
    changes.wrote = false;
    const response = await transport.call(JSON.parse(decoder.decode(body)));
    return { body: encoder.encode(JSON.stringify(response)), changed: changes.wrote };
  };
}
