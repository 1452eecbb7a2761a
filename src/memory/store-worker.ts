// One worker thread per open database: bun:sqlite is synchronous, so a 4 MiB write or a foreign program's write
// lock would otherwise stall every project's calls on the daemon's event loop. Here it stalls only this database.
// Besides single store methods, it answers whole tools/call requests (worker-calls.ts), so a big one's parsing,
// checking and answer-building stay off the daemon's event loop too.
import { readdirSync, readlinkSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Graph, StoreChoice } from "./backend.ts";
import { STORE_METHODS } from "./store-client.ts";
import { GraphStore } from "./store.ts";
import { GraphError } from "./types.ts";
import { createCallRunner } from "./worker-calls.ts";

declare const self: Worker;

export interface StoreRequest {
  id: number;
  /** "open", "close", "call" (args: the request body's bytes, the StoreChoice), or a GraphStore method. */
  method: string;
  args: unknown[];
}

export type StoreReply = { id: number; result: unknown } | { id: number; error: { name: string; message: string } };

let store: GraphStore | undefined;
let file = "";

function open(): GraphStore {
  if (!store) throw new Error(`msm memory: ${file} is not open`);
  return store;
}

/**
 * A store error as the daemon words it: a foreign program's write lock names that program; a full disk names the
 * database and what to do (SQLite's own "database or disk is full" says neither, and a session may write to one of
 * many project databases on different disks).
 */
function worded(error: unknown): Error {
  const e = error as Error & { code?: string };
  if (e.code === "SQLITE_BUSY" || /database is locked/i.test(e.message)) return new GraphError(lockedMessage(file));
  if (e.code === "SQLITE_FULL" || /database or disk is full/i.test(e.message)) return new GraphError(fullMessage(file));
  return e;
}

function fullMessage(db: string): string {
  return (
    `The memory database ${db} cannot be written: the disk holding it has no space left (SQLite: database or disk is full), ` +
    `so this change was not saved. Free space on that disk (df -h ${dirname(db)} shows how much is left), then retry; ` +
    `what was saved before is intact.`
  );
}

/** The open store for the call runner, each method's errors worded like a reply's. */
const graph = {
  get file() {
    return file;
  },
} as Record<string, unknown>;
for (const method of STORE_METHODS) {
  graph[method] = (...args: unknown[]) => {
    try {
      return (open() as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
    } catch (error) {
      throw worded(error);
    }
  };
}
const answerCall = createCallRunner(() => graph as unknown as Graph);

async function handle({ id, method, args }: StoreRequest): Promise<void> {
  try {
    let result: unknown;
    if (method === "open") {
      file = args[0] as string;
      store = new GraphStore(file, args[1] as { nofollow: boolean; busyTimeoutMs: number });
    } else if (method === "close") {
      store?.close();
      store = undefined;
    } else if (method === "call") {
      open();
      const answer = await answerCall(args[0] as Uint8Array, args[1] as StoreChoice);
      // Transferred, not copied: the answer may be many megabytes.
      self.postMessage({ id, result: answer } satisfies StoreReply, answer ? [answer.body.buffer as ArrayBuffer] : []);
      return;
    } else {
      result = (open() as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
    }
    self.postMessage({ id, result } satisfies StoreReply);
  } catch (error) {
    const e = worded(error);
    self.postMessage({ id, error: { name: e.name, message: e.message } } satisfies StoreReply);
  }
}

// One at a time, in order: answering a call is async (zod checks and the tool handler are awaited), a store method
// is not; a call must not interleave with what was sent after it.
let queue = Promise.resolve();
self.onmessage = (event: MessageEvent<StoreRequest>) => {
  queue = queue.then(() => handle(event.data));
};

/** Says which program holds the database, so the user knows what to close (Linux: open files in /proc). */
function lockedMessage(db: string): string {
  const holders = holdersOf(db);
  const who = holders.length ? ` (held by ${holders.join(", ")})` : "";
  return `The memory database ${db} is locked by another program${who}; its write lock did not clear within the busy timeout. Close that program or try again.`;
}

function holdersOf(db: string): string[] {
  const names = new Set([db, `${db}-wal`, `${db}-journal`, `${db}-shm`]);
  const found: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return [];
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!names.has(target)) continue;
      let comm = "?";
      try {
        comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      } catch {}
      found.push(`pid ${pid} ${comm}`);
      break;
    }
  }
  return found;
}
