import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "./canonical-json.ts";
import { writeFileAtomic, removeQuietly } from "./fsutil.ts";
import { msmHome } from "./paths.ts";

/**
 * The discovery cache (docs/hosted.md "Servers cost nothing until used"): what a server answered a session's
 * `initialize` and list requests, kept under `MSM_HOME/cache/<target>/<key>.json` so a later session is answered
 * without a server process. Read by the proxy (so: no zod, nothing heavy), written by the proxy that saw the
 * answers, listed by `msm status`, dropped when the target's config changes.
 */

/** List requests a cached session is answered from the cache (each page by its cursor). */
export const LIST_METHODS = ["tools/list", "prompts/list", "resources/list", "resources/templates/list"] as const;
export type ListMethod = (typeof LIST_METHODS)[number];

/** The `list_changed` notification that announces a new answer to each list method. */
export const LIST_CHANGED: Record<ListMethod, string> = {
  "tools/list": "notifications/tools/list_changed",
  "prompts/list": "notifications/prompts/list_changed",
  "resources/list": "notifications/resources/list_changed",
  "resources/templates/list": "notifications/resources/list_changed",
};

export const CACHE_FORMAT = 1;
/** One entry's bound: a server whose lists are bigger is served live, as without a cache. */
export const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
/** Entries kept per target (projects × client shapes); the least recently written go first. */
export const MAX_ENTRIES_PER_TARGET = 64;

export interface DiscoveryEntry {
  format: typeof CACHE_FORMAT;
  target: string;
  /** The key (an HMAC under the token, so nothing of the config is readable from it). */
  key: string;
  /** The project folder the answers are for; absent for a server shared globally. */
  project?: string;
  /** The session's `initialize` params the answers were given to (its `_meta` left out). */
  initializeParams: Record<string, unknown>;
  initializeResult: Record<string, unknown>;
  /** What the server said on hearing `notifications/initialized`, replayed to a cached session after its own. */
  startupNotes: Record<string, unknown>[];
  /** Each list method's answers by cursor ("" = the first page). */
  lists: Partial<Record<ListMethod, Record<string, unknown>>>;
  createdAt: number;
  updatedAt: number;
}

/** What decides a server's answers to a session, before it runs (see keyOf). */
export interface KeyParts {
  target: string;
  /** The target's entry in config.json as written (NOT_IN_KEY left out: they change no answer). */
  entry: unknown;
  /** The project, unless the server is shared globally and nothing in its entry names the project. */
  project?: string;
  /** The session's `initialize` params: protocol version and capabilities decide the answers. */
  initializeParams: Record<string, unknown>;
}

/**
 * Keys of a target's entry that change none of the server's answers: `lazy`, `instances` (how many copies of the
 * same server run), and the rules, which the proxy applies to answers on their way to the editor (cached answers are
 * kept unfiltered), so editing a rule keeps the cache.
 */
export const NOT_IN_KEY = ["lazy", "instances", "tools", "prompts", "resources"];

export function cacheRoot(): string {
  return join(msmHome(), "cache");
}

export function targetCacheDir(target: string): string {
  return join(cacheRoot(), target);
}

export function entryFile(target: string, key: string): string {
  return join(targetCacheDir(target), `${key}.json`);
}

/**
 * The entry's key: an HMAC of the target's entry (command, args, env values, cwd…), the project, and the session's
 * protocol version and capabilities, under msm's token — so the file name says nothing about a secret in the
 * config, and a changed config or a different client shape is a different key. `clientInfo` is left out: a new
 * editor build must not miss the cache, and servers do not answer lists by client name.
 */
export function keyOf(parts: KeyParts, secret: string): string {
  const entry = parts.entry && typeof parts.entry === "object" ? { ...(parts.entry as Record<string, unknown>) } : parts.entry;
  if (entry && typeof entry === "object") for (const key of NOT_IN_KEY) delete (entry as Record<string, unknown>)[key];
  const material = canonicalJson({
    format: CACHE_FORMAT,
    target: parts.target,
    entry,
    project: parts.project ?? null,
    protocolVersion: parts.initializeParams.protocolVersion ?? null,
    capabilities: parts.initializeParams.capabilities ?? {},
  });
  return createHmac("sha256", secret).update(material).digest("hex").slice(0, 40);
}

/** The entry under `key`, or undefined when there is none or it is unreadable (never an error: the server is asked). */
export function readEntry(target: string, key: string): DiscoveryEntry | undefined {
  try {
    const text = readFileSync(entryFile(target, key), "utf8");
    if (text.length > MAX_ENTRY_BYTES) return undefined;
    const entry = JSON.parse(text) as DiscoveryEntry;
    return isEntry(entry, target, key) ? entry : undefined;
  } catch {
    return undefined;
  }
}

function isEntry(value: unknown, target: string, key: string): value is DiscoveryEntry {
  if (!value || typeof value !== "object") return false;
  const entry = value as Partial<DiscoveryEntry>;
  return (
    entry.format === CACHE_FORMAT &&
    entry.target === target &&
    entry.key === key &&
    isObject(entry.initializeParams) &&
    isObject(entry.initializeResult) &&
    Array.isArray(entry.startupNotes) &&
    isObject(entry.lists) &&
    typeof entry.updatedAt === "number"
  );
}

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === "object" && !Array.isArray(value);

/**
 * Writes an entry whole (0600, atomic: a reader sees the old one or the new one), then trims the target's folder to
 * MAX_ENTRIES_PER_TARGET. An entry over MAX_ENTRY_BYTES is not kept. False when nothing was written.
 */
export function writeEntry(entry: DiscoveryEntry): boolean {
  const text = JSON.stringify(entry);
  if (text.length > MAX_ENTRY_BYTES) {
    removeQuietly(entryFile(entry.target, entry.key));
    return false;
  }
  try {
    mkdirSync(targetCacheDir(entry.target), { recursive: true, mode: 0o700 });
    writeFileAtomic(entryFile(entry.target, entry.key), text, 0o600);
  } catch {
    return false;
  }
  trim(entry.target);
  return true;
}

function trim(target: string): void {
  const files = entryFiles(target);
  if (files.length <= MAX_ENTRIES_PER_TARGET) return;
  files.sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (const file of files.slice(0, files.length - MAX_ENTRIES_PER_TARGET)) removeQuietly(file.path);
}

function entryFiles(target: string): { path: string; mtimeMs: number; size: number }[] {
  const dir = targetCacheDir(target);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const files: { path: string; mtimeMs: number; size: number }[] = [];
  for (const name of names) {
    if (!/^[0-9a-f]{40}\.json$/.test(name)) continue;
    try {
      const stat = statSync(join(dir, name));
      files.push({ path: join(dir, name), mtimeMs: stat.mtimeMs, size: stat.size });
    } catch {}
  }
  return files;
}

/** Every readable entry of a target, newest first. */
export function entriesOf(target: string): DiscoveryEntry[] {
  const found: DiscoveryEntry[] = [];
  for (const file of entryFiles(target)) {
    const key = file.path.slice(-45, -5);
    const entry = readEntry(target, key);
    if (entry) found.push(entry);
  }
  return found.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** What `msm status` shows of a target's cache: how many entries, and when the newest was written. */
export function cacheSummary(target: string): { entries: number; updatedAt?: number } {
  const files = entryFiles(target);
  if (!files.length) return { entries: 0 };
  return { entries: files.length, updatedAt: Math.max(...files.map((f) => f.mtimeMs)) };
}

/** Forgets a target's answers (its config changed, or `msm refresh`). */
export function dropEntries(target: string): void {
  rmSync(targetCacheDir(target), { recursive: true, force: true });
}

/** The tools a target's newest entry lists (every cached page), for token estimates; undefined without an entry. */
export function cachedTools(target: string): Record<string, unknown>[] | undefined {
  const entry = entriesOf(target)[0];
  const pages = entry?.lists["tools/list"];
  if (!pages) return undefined;
  return Object.values(pages).flatMap((page) => ((page as { tools?: unknown }).tools as Record<string, unknown>[] | undefined) ?? []);
}
