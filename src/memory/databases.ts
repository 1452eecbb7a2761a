import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { AsyncLocalStorage } from "node:async_hooks";
import { errnoCode } from "../lib/errors.ts";
import { userHome } from "../lib/paths.ts";
import { openStoreWorker, type AsyncStore } from "./store-client.ts";

/** The project a request speaks for, taken from its `Mcp-Project-Path` header. */
export const requestProject = new AsyncLocalStorage<string | undefined>();

/** At most this many database files stay open; the least recently used one is closed to make room. */
export const MAX_OPEN_DATABASES = 16;
/** A database nobody has used for this long is closed (its project may be long gone from the user's mind). */
export const IDLE_CLOSE_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

export function homeDatabasePath(): string {
  return join(userHome(), ".claude", "memory.db");
}

/** Where a project's memory lives, or why it cannot live there (then the home database is used). */
export type DatabaseChoice = { file: string; fallback?: undefined } | { file: string; fallback: string };

/**
 * `<project>/.claude/memory.db` when the project is an existing directory whose `.claude` folder exists or can be
 * made and is writable (and so is the file, if present); otherwise the home database, with the reason. A project
 * path is never created: a typo must not litter. Checked on every request — a few stat calls — because a project
 * folder can be deleted or made read-only while the daemon runs, and writes must not vanish into an unlinked file.
 */
export function chooseDatabase(project: string | undefined): DatabaseChoice {
  if (!project || project.trim() === "") return { file: homeDatabasePath() };
  const dir = resolve(project);
  try {
    if (!statSync(dir).isDirectory()) return { file: homeDatabasePath(), fallback: `${dir} is not a directory` };
    const claude = join(dir, ".claude");
    mkdirSync(claude, { recursive: true });
    accessSync(claude, constants.W_OK);
    const file = join(claude, "memory.db");
    if (existsSync(file)) accessSync(file, constants.W_OK);
    return { file };
  } catch (error) {
    const code = errnoCode(error);
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" || code === "EROFS" || code === "EPERM" ? "is read-only" : `is unusable (${code ?? String(error)})`;
    return { file: homeDatabasePath(), fallback: `${dir} ${why}` };
  }
}

/** Kept for callers that only want the path. */
export function databasePathFor(project: string | undefined): string {
  return chooseDatabase(project).file;
}

interface OpenDatabase {
  store: AsyncStore;
  lastUsed: number;
}

/**
 * Open stores by file path: a project's database is opened once and shared by every session in it. Bounded (LRU)
 * and swept for idle ones, because a long-lived daemon sees many projects over weeks.
 */
export class Databases {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly open = new Map<string, OpenDatabase>();
  private readonly fallbacks = new Map<string, string>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly log: { info: (message: string) => void; warn: (message: string) => void } = { info: () => {}, warn: () => {} },
    private readonly limits = { maxOpen: MAX_OPEN_DATABASES, idleMs: IDLE_CLOSE_MS },
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(SWEEP_EVERY_MS, limits.idleMs));
    this.sweeper.unref();
  }

  /** The store for the project of the request being handled. */
  current(): AsyncStore {
    return this.get(this.choose(requestProject.getStore()));
  }

  /** Picks the file for a project, logging once when a project starts (or stops) falling back to the home database. */
  choose(project: string | undefined): string {
    const choice = chooseDatabase(project);
    if (project) {
      const before = this.fallbacks.get(project);
      if (choice.fallback && before !== choice.fallback) {
        this.log.warn(`project ${choice.fallback}: using the home database ${choice.file}`);
        this.fallbacks.set(project, choice.fallback);
      } else if (!choice.fallback && before) {
        this.log.info(`project ${resolve(project)} is usable again: using ${choice.file}`);
        this.fallbacks.delete(project);
      }
    }
    return choice.file;
  }

  get(file: string): AsyncStore {
    const now = Date.now();
    let hit = this.open.get(file);
    // A project folder deleted (and perhaps re-created) under an open database: writes would go to an unlinked file.
    if (hit && !existsSync(file)) {
      void this.close(file, "its file is gone");
      hit = undefined;
    }
    if (hit) {
      this.open.delete(file);
      hit.lastUsed = now;
      this.open.set(file, hit);
      return hit.store;
    }
    if (file === homeDatabasePath()) mkdirSync(join(userHome(), ".claude"), { recursive: true });
    // Each database runs on a thread of its own: a big write or a foreign lock in one project never stalls another.
    const store = openStoreWorker(file);
    this.open.set(file, { store, lastUsed: now });
    this.log.info(`opened ${file}`);
    while (this.open.size > this.limits.maxOpen) {
      const [oldest] = this.open.keys();
      void this.close(oldest!, "too many open databases");
    }
    return store;
  }

  /** Files open right now, least recently used first (for tests and stats). */
  openFiles(): string[] {
    return [...this.open.keys()];
  }

  closeIdle(now = Date.now()): void {
    for (const [file, entry] of this.open) {
      if (now - entry.lastUsed >= this.limits.idleMs) void this.close(file, "idle");
      else if (!existsSync(file)) void this.close(file, "its file is gone");
    }
  }

  /** Closes every database; resolves when they are closed, or after `waitMs` (a worker may sit in a busy wait). */
  async closeAll(waitMs = 1_000): Promise<void> {
    clearInterval(this.sweeper);
    const closing = [...this.open.keys()].map((file) => this.close(file, "shutting down"));
    await Promise.race([Promise.allSettled(closing), Bun.sleep(waitMs)]);
  }

  private async close(file: string, why: string): Promise<void> {
    const entry = this.open.get(file);
    if (!entry) return;
    this.open.delete(file);
    // Calls already sent run first (a worker answers in order), then the file is closed and the thread ends.
    this.log.info(`closed ${file} (${why})`);
    await entry.store.close().catch(() => {});
  }
}
