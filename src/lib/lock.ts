import { readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { errnoCode } from "./errors.ts";
import { wantsToken } from "./lock-auth.ts";
import { createFileExclusive, removeQuietly, writeFileAtomic } from "./fsutil.ts";
import { msmHome, paths } from "./paths.ts";
import { PortSchema, TransportSchema } from "./config.ts";
import { commandLine, processMatches, startTicks } from "./proc.ts";

export { isAlive } from "./proc.ts";

/**
 * A process that holds its own lock checks it this often and rewrites it if it was damaged or removed, so a lock of
 * a live process is never missing or corrupt for long.
 */
export const HEAL_INTERVAL_MS = 1_000;
/**
 * A corrupt lock file younger than this may belong to a live holder that has not rewritten it yet: it is waited
 * for, not discarded (discarding it let a second daemon of the same target start next to the first).
 */
export const CORRUPT_GRACE_MS = 5 * HEAL_INTERVAL_MS;
const CORRUPT_POLL_MS = 50;

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
  /** One of msm's own daemons (memory, a stdio host, a remote relay): clients must send the bearer token (see lock-auth.ts). */
  auth: z.optional(z.literal("bearer")),
  /** Start time of `pid` (see proc.startTicks): a recycled pid running another program does not match. */
  pidStart: z.optional(z.string()),
  /** Stop the whole process group (external servers and whatever they spawned), not just `pid`. */
  group: z.optional(z.boolean()),
  /** Command line of `pid` (see proc.commandLine), recorded when the process wrote its own lock. */
  command: z.optional(z.string()),
  /** Which of msm's own daemons this is: a stdio host is the only one that is sent the editor session's environment. */
  kind: z.optional(z.enum(["memory", "host", "remote"])),
});
export type LockInfo = z.infer<typeof LockSchema>;

export type AcquireResult = { release: () => void; update: (info: LockInfo) => void } | { existing: LockInfo };

/**
 * Is the process a lock names still the one that wrote it (start time and command line, see proc.processMatches)?
 * Only then may it be sent the bearer token or a signal.
 */
export function ownerAlive(info: LockInfo): boolean {
  return processMatches(info);
}

export interface AcquireOptions {
  /**
   * Called (once) when the holder finds its lock taken by another live process: it is now a duplicate and should
   * exit. Only for a lock held by the process it names.
   */
  onLost?: (owner: LockInfo) => void;
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
  return parse(text);
}

function parse(text: string): LockInfo | undefined {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const result = LockSchema.safeParse(raw);
    if (!result.success) return undefined;
    // An older relay's `own: true` is read as the one field that says it now.
    return wantsToken(raw) && result.data.auth === undefined ? { ...result.data, auth: "bearer" } : result.data;
  } catch {
    return undefined;
  }
}

/**
 * Takes `<name>.lock` for this process with exclusive create. A lock that is corrupt or whose pid is dead is
 * discarded (never repaired) and the take retried; a live one is returned as `existing`.
 */
export function acquireLock(name: string, given: LockInfo, file = paths.lock(name), options: AcquireOptions = {}): AcquireResult {
  const stamp = (next: LockInfo): LockInfo => ({
    ...next,
    pidStart: next.pidStart ?? startTicks(next.pid),
    command: next.command ?? (next.pid === process.pid ? commandLine(next.pid) : undefined),
  });
  const info = stamp(given);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      createFileExclusive(file, serialize(info));
      return hold(file, info, stamp, options);
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
    const existing = waitWhileCorrupt(file);
    if (existing && ownerAlive(existing)) return { existing };
    discardStale(file);
  }
  const existing = parseLockFile(file);
  if (existing) return { existing };
  throw new Error(`could not take ${file}: it keeps changing under us`);
}

const serialize = (info: LockInfo) => JSON.stringify(info, null, 2) + "\n";

/** The lock just taken: released or updated by its holder, and kept intact while the holder lives. */
function hold(file: string, taken: LockInfo, stamp: (next: LockInfo) => LockInfo, options: AcquireOptions) {
  let current = taken;
  let timer: Timer | undefined;
  // Only a lock naming this very process is healed: one written on a child's behalf lives as long as the child.
  if (taken.pid === process.pid) {
    timer = setInterval(() => {
      const owner = heal(file, current);
      if (owner) {
        clearInterval(timer);
        options.onLost?.(owner);
      }
    }, HEAL_INTERVAL_MS);
    timer.unref?.();
  }
  return {
    release: () => {
      clearInterval(timer);
      releaseIfOwned(file, current.pid);
    },
    update: (next: LockInfo) => {
      current = stamp(next);
      writeFileAtomic(file, serialize(current));
    },
  };
}

/**
 * The holder's check of its own lock: rewritten when corrupt or removed (by a person, or by a tool that thought it
 * stale) so no one starts a second daemon beside us; returns the live process that took it over, if one did.
 */
function heal(file: string, mine: LockInfo): LockInfo | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    // Gone: put it back, exclusively (whoever re-created it first wins; the next check sees who). A removed
    // MSM_HOME (ENOENT on create) is left removed.
    if (errnoCode(error) === "ENOENT") {
      try {
        createFileExclusive(file, serialize(mine));
      } catch {}
    }
    return undefined;
  }
  const found = parse(text);
  if (found && found.pid === mine.pid) return undefined;
  if (found && ownerAlive(found)) return found;
  try {
    writeFileAtomic(file, serialize(mine));
  } catch {}
  return undefined;
}

/**
 * Reads a lock file that exists; while it is corrupt and young (its live holder may be about to heal it) waits,
 * blocking, at most CORRUPT_GRACE_MS. Returns the valid lock, or undefined when it stayed corrupt or vanished.
 */
function waitWhileCorrupt(file: string): LockInfo | undefined {
  for (;;) {
    const parsed = parseLockFile(file);
    if (parsed || !corruptAndYoung(file)) return parsed;
    Bun.sleepSync(CORRUPT_POLL_MS);
  }
}

/** A lock file that exists, does not parse, and was written less than CORRUPT_GRACE_MS ago. */
function corruptAndYoung(file: string): boolean {
  try {
    const age = Date.now() - statSync(file).mtimeMs;
    return age < CORRUPT_GRACE_MS && parseLockFile(file) === undefined;
  } catch {
    return false;
  }
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

/**
 * Clears `<name>.lock` if it is stale (dead or recycled pid, or corrupt for longer than CORRUPT_GRACE_MS); a live
 * lock, or a freshly corrupt one its holder may still heal, is left alone.
 */
export function clearIfStale(name: string): void {
  const file = paths.lock(name);
  const info = parseLockFile(file);
  if (info && ownerAlive(info)) return;
  if (!info && corruptAndYoung(file)) return;
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
