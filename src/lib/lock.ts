import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { errnoCode } from "./errors.ts";
import { createFileExclusive, removeQuietly, writeFileAtomic } from "./fsutil.ts";
import { msmHome, paths } from "./paths.ts";
import { PortSchema, TransportSchema } from "./config.ts";

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
});
export type LockInfo = z.infer<typeof LockSchema>;

export type AcquireResult = { release: () => void; update: (info: LockInfo) => void } | { existing: LockInfo };

/** Is `pid` a running process? EPERM means it exists but belongs to someone else: still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

/** Reads and validates a lock file. Missing, corrupt or owned by a dead pid → undefined (the caller may take over). */
export function readLock(name: string): LockInfo | undefined {
  const parsed = parseLockFile(paths.lock(name));
  return parsed && isAlive(parsed.pid) ? parsed : undefined;
}

function parseLockFile(file: string): LockInfo | undefined {
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
export function acquireLock(name: string, info: LockInfo, file = paths.lock(name)): AcquireResult {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      createFileExclusive(file, JSON.stringify(info, null, 2) + "\n");
      return {
        release: () => releaseIfOwned(file, info.pid),
        update: (next) => writeFileAtomic(file, JSON.stringify(next, null, 2) + "\n"),
      };
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
    const existing = parseLockFile(file);
    if (existing && isAlive(existing.pid)) return { existing };
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
  if (moved && isAlive(moved.pid)) {
    try {
      createFileExclusive(file, readFileSync(aside, "utf8"));
    } catch {}
  }
  removeQuietly(aside);
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
      return { name: f.slice(0, -".lock".length), info, alive: info ? isAlive(info.pid) : false };
    });
}
