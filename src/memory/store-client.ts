import type { StoreChoice } from "./backend.ts";
import { workerUrl } from "../lib/contracts/worker-url.ts";
import type { GraphStore } from "./store.ts";
import { GraphError } from "./types.ts";
import type { StoreReply, StoreRequest } from "./store-worker.ts";
import type { CallAnswer } from "./worker-calls.ts";

/** The GraphStore methods the daemon calls, each answered by the database's worker thread. */
export const STORE_METHODS = [
  "createEntities",
  "createRelations",
  "addObservations",
  "deleteEntities",
  "deleteObservations",
  "deleteRelations",
  "readGraph",
  "searchNodes",
  "openNodes",
  "stats",
  "renameEntity",
  "mergeEntities",
  "entityDetails",
  "nodeRelations",
] as const;
type Method = (typeof STORE_METHODS)[number];

/** A GraphStore whose every call runs on its own thread: same methods, answers as promises. */
export type AsyncStore = {
  readonly file: string;
  /** Its worker failed: every call is refused, and the owner should open the file again on a new one. */
  readonly failed: boolean;
  close(): Promise<void>;
  /**
   * Answers a whole tools/call on the database's thread (worker-calls.ts): `body` is the HTTP body of a
   * PlainToolCall, handed over (the caller's view of it is emptied), `choice` where its database was found.
   * Undefined: its arguments fail their schema, and the session's server should answer it.
   */
  call(body: Uint8Array, choice: StoreChoice): Promise<CallAnswer | undefined>;
} & {
  [K in Method]: (...args: Parameters<GraphStore[K]>) => Promise<ReturnType<GraphStore[K]>>;
};

/**
 * A write blocked by another program's lock fails after this long with an error naming the program (the daemon's
 * own writers never wait on each other: one worker per file runs its calls in order).
 */
export const WORKER_BUSY_TIMEOUT_MS = 4_000;

export interface StoreWorkerOptions {
  nofollow?: boolean;
  busyTimeoutMs?: number;
  /** The worker's code (tests start failing workers); default: the store worker (lib/contracts/worker-url.ts). */
  url?: string;
}

/**
 * Opens `file` in a worker thread of its own. Calls are answered in the order they were made. A worker that fails
 * (its code does not load, an uncaught error, it exits) fails every call it held and every later one at once —
 * nothing would ever answer them — and says so in `failed`, for the owner to start a new one.
 */
export function openStoreWorker(file: string, options: StoreWorkerOptions = {}): AsyncStore {
  const worker = new Worker(options.url ?? workerUrl("store"));
  worker.unref();
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let next = 0;
  let closed = false;
  let failed: Error | undefined;
  worker.onmessage = (event: MessageEvent<StoreReply>) => {
    const reply = event.data;
    const call = waiting.get(reply.id);
    if (!call) return;
    waiting.delete(reply.id);
    if ("error" in reply) {
      const error = reply.error.name === "GraphError" ? new GraphError(reply.error.message) : new Error(reply.error.message);
      call.reject(error);
    } else call.resolve(reply.result);
  };
  const fail = (why: string) => {
    failed ??= new Error(`msm memory: the worker for ${file} failed (${why}); the next call starts a new one`);
    for (const call of waiting.values()) call.reject(failed);
    waiting.clear();
  };
  worker.onerror = (event) => fail(event.message || "error");
  // A worker that ends by itself (process.exit in it, a crash) fires no error: its calls would wait forever.
  worker.addEventListener("close", () => {
    if (!closed) fail("it exited");
  });
  const send = (method: string, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> => {
    if (failed) return Promise.reject(failed);
    if (closed) return Promise.reject(new Error(`msm memory: ${file} was closed; try again`));
    const id = ++next;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, method, args } satisfies StoreRequest, transfer);
    });
  };
  // Opening is queued like any call: the first call simply waits for it (and fails with its error, if any).
  const opened = send("open", [file, { nofollow: options.nofollow ?? false, busyTimeoutMs: options.busyTimeoutMs ?? WORKER_BUSY_TIMEOUT_MS }]);
  opened.catch(() => {});
  const store: Record<string, unknown> = {
    file,
    close: async () => {
      if (closed) return;
      const done = send("close", []).catch(() => {});
      closed = true;
      await done;
      worker.terminate();
    },
  };
  Object.defineProperty(store, "failed", { get: () => failed !== undefined });
  for (const method of STORE_METHODS) store[method] = (...args: unknown[]) => send(method, args);
  store.call = (body: Uint8Array, choice: StoreChoice) => send("call", [body, choice], [body.buffer as ArrayBuffer]);
  return store as unknown as AsyncStore;
}
