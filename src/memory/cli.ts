import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { MsmError } from "../lib/errors.ts";
import { homeDatabasePath } from "./databases.ts";
import { GraphStore } from "./store.ts";
import { exportTo, exportToFile, importFile } from "./transfer.ts";

/**
 * The database a command-line run means: the project's `.claude/memory.db` or the home one. Unlike the daemon, a
 * person typed this path, so a missing project folder is an error rather than a silent fallback.
 */
function databaseFor(project: string | undefined, create: boolean): string {
  let dir: string;
  if (project) {
    dir = resolve(project);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MsmError("INPUT_INVALID", `--project ${project}: no such directory`);
    dir = join(dir, ".claude");
  } else {
    dir = join(homeDatabasePath(), "..");
  }
  const file = join(dir, "memory.db");
  if (create) mkdirSync(dir, { recursive: true });
  else if (!existsSync(file)) throw new MsmError("INPUT_INVALID", `No memory database at ${file} yet: nothing to export.`);
  return file;
}

export async function runImport(file: string | undefined, project: string | undefined): Promise<void> {
  if (!file) {
    throw new MsmError("USAGE", 'Which file? Run "msm memory import FILE", or set MEMORY_FILE_PATH to the official server\'s memory file.');
  }
  const source = resolve(file);
  const database = databaseFor(project, true);
  const store = new GraphStore(database);
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
  const database = databaseFor(project, false);
  const store = new GraphStore(database);
  try {
    const counts = output ? exportToFile(store, resolve(output)) : exportTo(store, 1);
    process.stderr.write(`Exported ${counts.entities} entities and ${counts.relations} relations from ${database}${output ? ` to ${resolve(output)}` : ""}.\n`);
  } finally {
    store.close();
  }
}
