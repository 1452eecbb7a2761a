import { readFileSync } from "node:fs";
import { z } from "zod";
import { writeFileAtomic } from "./fsutil.ts";
import { paths } from "./paths.ts";

/** Entries kept: a long-lived daemon sees many projects; the oldest-opened ones drop off first. */
export const MAX_KNOWN_DATABASES = 200;

const KnownSchema = z.array(z.object({ file: z.string(), lastOpened: z.string() }));
export type KnownDatabase = z.infer<typeof KnownSchema>[number];

/**
 * `MSM_HOME/databases.json`: every memory database file the memory daemon has opened, newest first. The memory
 * daemon writes it (once per open, not per request); the dashboard reads it to list projects, because the daemon
 * closes idle databases and would otherwise forget them. A bad file reads as empty (it is rebuilt by the next open).
 */
export function knownDatabases(): KnownDatabase[] {
  try {
    const parsed = KnownSchema.safeParse(JSON.parse(readFileSync(paths.databases(), "utf8")));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** Records that `file` was opened now; best effort (a full disk must not fail a memory call). */
export function recordDatabase(file: string, now = new Date()): void {
  try {
    const rest = knownDatabases().filter((k) => k.file !== file);
    const next = [{ file, lastOpened: now.toISOString() }, ...rest].slice(0, MAX_KNOWN_DATABASES);
    writeFileAtomic(paths.databases(), JSON.stringify(next, null, 1) + "\n");
  } catch {}
}
