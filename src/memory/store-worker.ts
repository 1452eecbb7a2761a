// One worker thread per open database: bun:sqlite is synchronous, so a 4 MiB write or a foreign program's write
// lock would otherwise stall every project's calls on the daemon's event loop. Here it stalls only this database.
import { readdirSync, readlinkSync, readFileSync } from "node:fs";
import { GraphStore } from "./store.ts";

declare const self: Worker;

export interface StoreRequest {
  id: number;
  method: string;
  args: unknown[];
}

export type StoreReply = { id: number; result: unknown } | { id: number; error: { name: string; message: string } };

let store: GraphStore | undefined;
let file = "";

self.onmessage = (event: MessageEvent<StoreRequest>) => {
  const { id, method, args } = event.data;
  try {
    let result: unknown;
    if (method === "open") {
      file = args[0] as string;
      store = new GraphStore(file, args[1] as { nofollow: boolean; busyTimeoutMs: number });
    } else if (method === "close") {
      store?.close();
      store = undefined;
    } else {
      if (!store) throw new Error(`msm memory: ${file} is not open`);
      result = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
    }
    self.postMessage({ id, result } satisfies StoreReply);
  } catch (error) {
    const e = error as Error & { code?: string };
    const busy = e.code === "SQLITE_BUSY" || /database is locked/i.test(e.message);
    const message = busy ? lockedMessage(file) : e.message;
    self.postMessage({ id, error: { name: busy ? "GraphError" : e.name, message } } satisfies StoreReply);
  }
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
