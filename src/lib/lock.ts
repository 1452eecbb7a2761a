import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { errnoCode } from "./errors.ts";
import { createFileExclusive, removeQuietly, writeFileAtomic } from "./fsutil.ts";
import { msmHome, paths } from "./paths.ts";
import { PortSchema, TransportSchema } from "./config.ts";
import { isAlive, startTicks } from "./proc.ts";

export { isAlive } from "./proc.ts";

/** What a live daemon (or the supervisor) publishes about itself in `<name>.lock`. */
export const LockSchema = z.object({
  pid: z.number().check(z.int(), z.positive()),
  /** 0 while the owner has not bound its port yet. */
  port: PortSchema,
  transport: TransportSchema,
  /** ISO time the owner started. */
  startedAt: z.string(),
  version: z.string(),
  /** URL path of the MCP endpoint, for daemons. */
  path: z.optional(z.string()),
  /** msm's own daemon (a stdio host): clients must send the bearer token, as to the memory daemon. */
  auth: z.optional(z.literal("bearer")),
  /** Start time of `pid` (see proc.startTicks): a recycled pid running another program does not match. */
  pidStart: z.optional(z.string()),
  /** Stop the whole process group (external servers and whatever they spawned), not just `pid`. */
  group: z.optional(z.boolean()),
});
export type LockInfo = z.infer<typeof LockSchema>;

export type AcquireResult = { release: () => void; update: (info: LockInfo) => void } | { existing: LockInfo };

/**
 * Is the process a lock names still the one that wrote it? Dead (or zombie) → no. Alive but started at another time
 * than recorded → no: the kernel reused the pid for some other program after our daemon died.
 */
export function ownerAlive(info: LockInfo): boolean {
  if (!isAlive(info.pid)) return false;
  if (info.pidStart === undefined) return true;
  const now = startTicks(info.pid);
  return now === undefined || now === info.pidStart;
}

/** Reads and validates a lock file. Missing, corrupt or owned by a dead or recycled pid → undefined. */
export function readLock(name: string): LockInfo | undefined {
  const parsed = parseLockFile(paths.lock(name));
  return parsed && ownerAlive(parsed) ? parsed : undefined;
}

export function parseLockFile(file: string): LockInfo | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const result = LockSchema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `<name>.lock` for this process with exclusive create. A lock that is corrupt or whose pid is dead is
 * discarded (never repaired) and the take retried; a live one is returned as `existing`.
 */
export function acquireLock(name: string, given: LockInfo, file = paths.lock(name)): AcquireResult {
  const stamp = (next: LockInfo): LockInfo => ({ ...next, pidStart: next.pidStart ?? startTicks(next.pid) });
  const info = stamp(given);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      createFileExclusive(file, JSON.stringify(info, null, 2) + "\n");
      return {
        release: () => releaseIfOwned(file, info.pid),
        update: (next) => writeFileAtomic(file, JSON.stringify(stamp(next), null, 2) + "\n"),
      };
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
    const existing = parseLockFile(file);
    if (existing && ownerAlive(existing)) return { existing };
    discardStale(file);
  }
  const existing = parseLockFile(file);
  if (existing) return { existing };
  throw new Error(`could not take ${file}: it keeps changing under us`);
}

/**
 * Moves a stale lock aside before deleting it. rename(2) is atomic, so of several processes clearing the same stale
 * file only one gets it; if what it moved turns out to be a fresh live lock (another process replaced the stale one
 * in between), it is put back.
 */
function discardStale(file: string): void {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return;
  }
  const moved = parseLockFile(aside);
  if (moved && ownerAlive(moved)) {
    try {
      createFileExclusive(file, readFileSync(aside, "utf8"));
    } catch {}
  }
  removeQuietly(aside);
}

/** Clears `<name>.lock` if it is stale (corrupt, dead or recycled pid); a live lock is left alone. */
export function clearIfStale(name: string): void {
  const file = paths.lock(name);
  const info = parseLockFile(file);
  if (info && ownerAlive(info)) return;
  try {
    readFileSync(file);
  } catch {
    return;
  }
  discardStale(file);
}

/** Removes the lock only if it still names `pid`, so a process never deletes a successor's lock. */
export function releaseIfOwned(file: string, pid: number): void {
  const current = parseLockFile(file);
  if (current && current.pid !== pid) return;
  removeQuietly(file);
}

export interface LockEntry {
  name: string;
  /** undefined when the file is corrupt. */
  info: LockInfo | undefined;
  alive: boolean;
}

/** Every `<name>.lock` in MSM_HOME, live or not, for `msm status`. */
export function listLocks(): LockEntry[] {
  let files: string[];
  try {
    files = readdirSync(msmHome());
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith(".lock"))
    .sort()
    .map((f) => {
      const info = parseLockFile(join(msmHome(), f));
      return { name: f.slice(0, -".lock".length), info, alive: info ? ownerAlive(info) : false };
    });
}
