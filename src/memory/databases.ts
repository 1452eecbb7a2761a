import { accessSync, closeSync, constants, lstatSync, mkdirSync, openSync, realpathSync, type Stats } from "node:fs";
import { join } from "node:path";
import { AsyncLocalStorage } from "node:async_hooks";
import { MsmError, errnoCode } from "../lib/errors.ts";
import { recordDatabase } from "../lib/known-databases.ts";
import { userHome } from "../lib/paths.ts";
import { foreignReason, projectProblem, tightenMode } from "../lib/trust.ts";
import { openStoreWorker, type AsyncStore } from "./store-client.ts";

/** The project a request speaks for, taken from its `Mcp-Project-Path` header. */
export const requestProject = new AsyncLocalStorage<string | undefined>();

/** At most this many database files stay open; the least recently used one is closed to make room. */
export const MAX_OPEN_DATABASES = 16;
/** A database nobody has used for this long is closed (its project may be long gone from the user's mind). */
export const IDLE_CLOSE_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

/** Database files are the user's alone; `.claude` folders msm creates likewise. SQLite gives -wal/-shm the db's mode. */
export const DB_MODE = 0o600;
export const CLAUDE_DIR_MODE = 0o700;

export function homeDatabasePath(): string {
  return join(userHome(), ".claude", "memory.db");
}

/**
 * Which file a session's memory lives in, and why (`memory_stats` reports both). `scope` "project" is
 * `<project>/.claude/memory.db`; "home" is `~/.claude/memory.db`, for a session with no project or a project folder
 * that cannot hold a database and never had one.
 */
export interface DatabaseChoice {
  file: string;
  scope: "project" | "home";
  why: string;
  /** Set when the project's own database is unusable and the home one stands in (first use only). */
  fallback?: string;
}

/**
 * The database for a request's project, checked on every request (a few stat calls) because a folder can change
 * under a running daemon. Files under a project are untrusted — a cloned repository or another local user put them
 * there — so `.claude`, `memory.db`, `-wal` and `-shm` must be real (no symlink), the user's own and writable by
 * nobody else; otherwise the request fails with an error naming the path and the fix, and nothing is created or
 * written anywhere. Once a project has a database it is used or the request fails: writing elsewhere would make
 * them vanish from the project once it is writable again (split brain). Only a project that cannot hold a database
 * and has none uses the home database.
 */
export function chooseDatabase(project: string | undefined): DatabaseChoice {
  if (project === undefined || project.trim() === "") return { file: homeDatabasePath(), scope: "home", why: "the session has no project" };
  const problem = projectProblem(project);
  if (problem) {
    throw new MsmError(
      "PROJECT_REFUSED",
      `The project path ${project} ${problem}, so msm keeps no memory there. Start the session in (or with --project set to) ` +
        `an absolute path of a folder you own, such as the repository you work in.`,
    );
  }
  if (project === realHome()) return { file: homeDatabasePath(), scope: "home", why: "the project is your home folder" };

  const claude = join(project, ".claude");
  const file = join(claude, "memory.db");
  const dirStat = lstatOrUndefined(claude);
  if (!dirStat) {
    try {
      mkdirSync(claude, { mode: CLAUDE_DIR_MODE });
    } catch (error) {
      if (!isReadOnly(error)) throw unusable(claude, error);
      return homeFallback(`${project} is read-only, so it cannot hold ${file}`);
    }
  } else {
    refuseUnsafe(claude, dirStat, "directory");
  }

  // SQLite creates -wal and -shm next to the database by name and follows a symlink there: one planted by the
  // repository would send the journal, and the user's writes, wherever it points. Checked before the database is
  // created, so a refusal leaves nothing behind.
  for (const side of [`${file}-wal`, `${file}-shm`]) {
    const stat = lstatOrUndefined(side);
    if (!stat) continue;
    refuseUnsafe(side, stat, "file");
    tightenMode(side, DB_MODE, stat);
  }
  const dbStat = lstatOrUndefined(file);
  if (dbStat) {
    refuseUnsafe(file, dbStat, "file");
    for (const path of [claude, file]) {
      try {
        accessSync(path, constants.W_OK);
      } catch (error) {
        throw new MsmError(
          "DATABASE_READONLY",
          `The project's memory database ${file} cannot be written (${path} is read-only: ${errnoCode(error) ?? String(error)}). ` +
            `msm will not write this project's memory anywhere else. Make it writable again (chmod u+w ${path}), then retry.`,
        );
      }
    }
    tightenMode(file, DB_MODE, dbStat);
  } else {
    try {
      accessSync(claude, constants.W_OK);
    } catch (error) {
      if (!isReadOnly(error)) throw unusable(claude, error);
      return homeFallback(`${claude} is read-only, so it cannot hold ${file}`);
    }
    createPrivate(file);
  }
  return { file, scope: "project", why: `the project ${project} keeps its memory in its .claude folder` };
}

function homeFallback(reason: string): DatabaseChoice {
  return { file: homeDatabasePath(), scope: "home", why: `${reason}; it has no database yet, so the home database is used`, fallback: reason };
}

let cachedHome: { home: string; real: string | undefined } | undefined;
/** The canonical home folder (a project equal to it uses the home database under its own, trusted, rules). */
function realHome(): string | undefined {
  const home = userHome();
  if (cachedHome?.home !== home) {
    let real: string | undefined;
    try {
      real = realpathSync(home);
    } catch {}
    cachedHome = { home, real };
  }
  return cachedHome.real;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw unusable(path, error);
  }
}

/** A symlink, another owner, a mode others can write, extra hard links: someone else could steer this path. */
function refuseUnsafe(path: string, stat: Stats, kind: "directory" | "file"): void {
  let problem: string | undefined;
  let fix = `remove or move it away (msm then creates a private one)`;
  if (stat.isSymbolicLink()) problem = "is a symbolic link";
  else if (kind === "directory" ? !stat.isDirectory() : !stat.isFile()) problem = `is not a regular ${kind}`;
  else {
    problem = foreignReason(stat);
    if (problem && !problem.startsWith("is owned")) fix = `if it is yours, run: chmod go-w ${path}`;
    else if (!problem && kind === "file" && stat.nlink > 1) problem = `has ${stat.nlink} hard links (it is also another file)`;
  }
  if (!problem) return;
  throw new MsmError(
    "DATABASE_UNSAFE",
    `${path} ${problem}; msm never uses a memory file someone else could redirect or rewrite. To fix, ${fix}.`,
  );
}

/** Creates the database file 0600 without following a symlink (O_EXCL fails on any existing name, link or not). */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, DB_MODE));
  } catch (error) {
    if (errnoCode(error) === "EEXIST") {
      // Created between our look and now (another daemon or tool): check it like any existing one.
      const stat = lstatSync(file);
      refuseUnsafe(file, stat, "file");
      return;
    }
    throw unusable(file, error);
  }
}

function isReadOnly(error: unknown): boolean {
  const code = errnoCode(error);
  return code === "EACCES" || code === "EROFS" || code === "EPERM";
}

function unusable(path: string, error: unknown): MsmError {
  return new MsmError("DATABASE_UNSAFE", `Cannot use ${path} for the memory database (${errnoCode(error) ?? String(error)}).`, { cause: error });
}

/** The home database's folder and file, created private (trusted: the user's own home, symlinks allowed). */
export function ensureHomeDatabase(file: string): void {
  mkdirSync(join(userHome(), ".claude"), { recursive: true, mode: CLAUDE_DIR_MODE });
  try {
    closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, DB_MODE));
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw unusable(file, error);
  }
}

/** Kept for callers that only want the path. */
export function databasePathFor(project: string | undefined): string {
  return chooseDatabase(project).file;
}

interface OpenDatabase {
  store: AsyncStore;
  lastUsed: number;
  /** The file's identity when opened: a different inode under the same name means the open one was unlinked. */
  identity: string | undefined;
}

function identityOf(file: string): string | undefined {
  try {
    const stat = lstatSync(file);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Open stores by file path: a project's database is opened once and shared by every session in it. Bounded (LRU)
 * and swept for idle ones, because a long-lived daemon sees many projects over weeks.
 */
export class Databases {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly open = new Map<string, OpenDatabase>();
  /** The last problem logged per project, so a busy session does not repeat it on every call. */
  private readonly warned = new Map<string, string>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly log: { info: (message: string) => void; warn: (message: string) => void } = { info: () => {}, warn: () => {} },
    private readonly limits = { maxOpen: MAX_OPEN_DATABASES, idleMs: IDLE_CLOSE_MS },
    /** Starts a database's worker (tests start failing ones). */
    private readonly openStore: (file: string, options: { nofollow: boolean }) => AsyncStore = openStoreWorker,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(SWEEP_EVERY_MS, limits.idleMs));
    this.sweeper.unref();
  }

  /** The store for the project of the request being handled (throws an MsmError the tool call reports). */
  current(): AsyncStore {
    return this.currentWithChoice().store;
  }

  /** The store and why it was chosen (`memory_stats`). */
  currentWithChoice(): { store: AsyncStore; choice: DatabaseChoice } {
    const choice = this.choose(requestProject.getStore());
    return { store: this.get(choice.file, choice.scope === "project"), choice };
  }

  /** Picks the file for a project, logging once when a project is refused or falls back, and once when it is fine again. */
  choose(project: string | undefined): DatabaseChoice {
    let choice: DatabaseChoice;
    try {
      choice = chooseDatabase(project);
    } catch (error) {
      if (project) this.warnOnce(project, error instanceof Error ? error.message : String(error));
      throw error;
    }
    if (project && choice.fallback) this.warnOnce(project, `project ${choice.fallback}: using the home database ${choice.file}`);
    else if (project && this.warned.delete(project)) this.log.info(`project ${project} is usable again: using ${choice.file}`);
    return choice;
  }

  private warnOnce(project: string, message: string): void {
    if (this.warned.get(project) === message) return;
    this.warned.set(project, message);
    this.log.warn(message);
  }

  get(file: string, untrusted = false): AsyncStore {
    const now = Date.now();
    let hit = this.open.get(file);
    // A project folder deleted (and perhaps re-created) under an open database: writes would go to an unlinked file.
    if (hit && hit.identity !== identityOf(file)) {
      void this.close(file, "its file is gone");
      hit = undefined;
    }
    // Its worker failed (and failed the calls it held): this call gets a new one.
    if (hit?.store.failed) {
      void this.close(file, "its worker failed; starting a new one");
      hit = undefined;
    }
    if (hit) {
      this.open.delete(file);
      hit.lastUsed = now;
      this.open.set(file, hit);
      return hit.store;
    }
    if (file === homeDatabasePath()) ensureHomeDatabase(file);
    // Each database runs on a thread of its own: a big write or a foreign lock in one project never stalls another.
    const store = this.openStore(file, { nofollow: untrusted });
    this.open.set(file, { store, lastUsed: now, identity: identityOf(file) });
    this.log.info(`opened ${file}`);
    recordDatabase(file);
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
      else if (entry.identity !== identityOf(file)) void this.close(file, "its file is gone");
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
    this.log.info(`closed ${file} (${why})`);
    // Calls already sent run first (a worker answers in order), then the file is closed and the thread ends.
    await entry.store.close().catch(() => {});
  }
}
