import { existsSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { MsmError } from "../lib/errors.ts";
import { chooseDatabase, ensureHomeDatabase, homeDatabasePath } from "./databases.ts";
import { GraphStore } from "./store.ts";
import { exportTo, exportToFile, importFile } from "./transfer.ts";

/**
 * The database a command-line run means: the project's `.claude/memory.db` or the home one, under the daemon's
 * rules (no symlinks, nothing another user controls). Unlike the daemon, a person typed this path, so it may be
 * relative, and a project that cannot hold a database is an error rather than a fallback to the home one.
 */
function databaseFor(project: string | undefined, create: boolean): { file: string; untrusted: boolean } {
  if (!project) {
    const file = homeDatabasePath();
    if (create) ensureHomeDatabase(file);
    else if (!existsSync(file)) throw new MsmError("INPUT_INVALID", `No memory database at ${file} yet: nothing to export.`);
    return { file, untrusted: false };
  }
  let dir: string;
  try {
    dir = realpathSync(resolve(project));
  } catch {
    throw new MsmError("INPUT_INVALID", `--project ${project}: no such directory`);
  }
  const expected = join(dir, ".claude", "memory.db");
  if (!create && !existsSync(expected)) throw new MsmError("INPUT_INVALID", `No memory database at ${expected} yet: nothing to export.`);
  const choice = chooseDatabase(dir);
  if (choice.fallback) throw new MsmError("INPUT_INVALID", `--project ${project}: ${choice.fallback}.`);
  return { file: choice.file, untrusted: choice.scope === "project" };
}

export async function runImport(file: string | undefined, project: string | undefined): Promise<void> {
  if (!file) {
    throw new MsmError("USAGE", 'Which file? Run "msm memory import FILE", or set MEMORY_FILE_PATH to the official server\'s memory file.');
  }
  const source = resolve(file);
  const { file: database, untrusted } = databaseFor(project, true);
  const store = new GraphStore(database, { nofollow: untrusted });
  try {
    const started = Date.now();
    const report = await importFile(source, store, (message) => process.stderr.write(`msm memory import: ${message}\n`));
    store.optimizeSearchIndex();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `Imported ${source} into ${database} in ${seconds} s: ${report.entitiesAdded} entities added` +
        (report.entitiesMerged ? `, ${report.entitiesMerged} merged into existing ones` : "") +
        `, ${report.observationsAdded} observations, ${report.relationsAdded} relations` +
        (report.ignored ? ` (${report.ignored} lines of unknown type ignored)` : "") +
        ".\n",
    );
  } finally {
    store.close();
  }
}

export async function runExport(project: string | undefined, output: string | undefined): Promise<void> {
  const { file: database, untrusted } = databaseFor(project, false);
  const store = new GraphStore(database, { nofollow: untrusted });
  try {
    const counts = output ? exportToFile(store, resolve(output)) : exportTo(store, 1);
    process.stderr.write(`Exported ${counts.entities} entities and ${counts.relations} relations from ${database}${output ? ` to ${resolve(output)}` : ""}.\n`);
  } finally {
    store.close();
  }
}
