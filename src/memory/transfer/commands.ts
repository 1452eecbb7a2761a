import { existsSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, memoryTarget } from "../../lib/config.ts";
import { MsmError } from "../../lib/errors.ts";
import { identityFor } from "../source.ts";
import type { TransferGraph as Graph } from "../types.ts";
import { chooseDatabase, ensureHomeDatabase, homeDatabasePath } from "../sqlite/databases.ts";
import { PgGraph, PgServer } from "../postgres/store.ts";
import { configuredDatabaseUrl, parsePgUrl } from "../postgres/url.ts";
import { GraphError, GraphStore } from "../sqlite/store.ts";
import { copyGraph, exportTo, exportToFile, importFile } from "./transfer.ts";

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
  const dir = projectDir(project);
  const expected = join(dir, ".claude", "memory.db");
  if (!create && !existsSync(expected)) throw new MsmError("INPUT_INVALID", `No memory database at ${expected} yet: nothing to export.`);
  const choice = chooseDatabase(dir);
  if (choice.fallback) throw new MsmError("INPUT_INVALID", `--project ${project}: ${choice.fallback}.`);
  return { file: choice.file, untrusted: choice.scope === "project" };
}

function projectDir(project: string): string {
  try {
    return realpathSync(resolve(project));
  } catch {
    throw new MsmError("INPUT_INVALID", `--project ${project}: no such directory`);
  }
}

/** A project's graph on a PostgreSQL server (the caller closes the server). */
function postgresGraph(url: string, project: string | undefined): { graph: PgGraph; server: PgServer; where: string } {
  const server = new PgServer(parsePgUrl(url), { max: 2 });
  const graph = new PgGraph(server, identityFor(project === undefined ? undefined : projectDir(project)));
  return { graph, server, where: `${server.target.display} (project ${graph.identity.id})` };
}

/** The graph import/export use: the daemon's backend (MSM_MEMORY_DATABASE_URL or targets.memory.database), else SQLite. */
function configuredGraph(project: string | undefined, create: boolean): { graph: Graph; where: string; close: () => Promise<void>; optimize: () => void } {
  const url = configuredDatabaseUrl(memoryTarget(loadConfig()).database);
  if (url) {
    const { graph, server, where } = postgresGraph(url, project);
    return { graph, where, close: () => server.close(), optimize: () => {} };
  }
  const { file, untrusted } = databaseFor(project, create);
  const store = new GraphStore(file, { nofollow: untrusted });
  return { graph: store, where: file, close: async () => store.close(), optimize: () => store.optimizeSearchIndex() };
}

async function runImportInner(file: string | undefined, project: string | undefined): Promise<void> {
  if (!file) {
    throw new MsmError("USAGE", 'Which file? Run "msm memory import FILE", or set MEMORY_FILE_PATH to the official server\'s memory file.');
  }
  const source = resolve(file);
  const target = configuredGraph(project, true);
  try {
    const started = Date.now();
    const report = await importFile(source, target.graph, (message) => process.stderr.write(`msm memory import: ${message}\n`));
    target.optimize();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `Imported ${source} into ${target.where} in ${seconds} s: ${report.entitiesAdded} entities added` +
        (report.entitiesMerged ? `, ${report.entitiesMerged} merged into existing ones` : "") +
        `, ${report.observationsAdded} observations, ${report.relationsAdded} relations` +
        (report.ignored ? ` (${report.ignored} lines of unknown type ignored)` : "") +
        ".\n",
    );
  } finally {
    await target.close();
  }
}

async function runExportInner(project: string | undefined, output: string | undefined): Promise<void> {
  const source = configuredGraph(project, false);
  try {
    const counts = output ? await exportToFile(source.graph, resolve(output)) : await exportTo(source.graph, 1);
    process.stderr.write(
      `Exported ${counts.entities} entities and ${counts.relations} relations from ${source.where}${output ? ` to ${resolve(output)}` : ""}.\n`,
    );
  } finally {
    await source.close();
  }
}

/**
 * `--to URL`: the project's SQLite graph into PostgreSQL; `--from URL`: back into SQLite. Import rules (nothing
 * duplicated, missing observations added), so a second run, or one after an interruption, is harmless.
 */
async function runMigrateInner(options: { to?: string; from?: string; project?: string }): Promise<void> {
  if (!!options.to === !!options.from) {
    throw new MsmError("USAGE", "Give exactly one of --to URL (SQLite → PostgreSQL) or --from URL (PostgreSQL → SQLite).");
  }
  const pg = postgresGraph((options.to ?? options.from)!, options.project);
  const { file, untrusted } = databaseFor(options.project, !!options.from);
  const store = new GraphStore(file, { nofollow: untrusted });
  const [from, to, fromWhere, toWhere] = options.to ? [store, pg.graph, file, pg.where] : [pg.graph, store, pg.where, file];
  try {
    const started = Date.now();
    const report = await copyGraph(from, to, (message) => process.stderr.write(`msm memory migrate: ${message}\n`));
    if (options.from) store.optimizeSearchIndex();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `Copied ${report.entities} entities and ${report.relations} relations from ${fromWhere} to ${toWhere} in ${seconds} s: ` +
        `${report.entitiesAdded} entities added, ${report.entitiesMerged} already there, ${report.observationsAdded} observations and ${report.relationsAdded} relations added.\n`,
    );
  } finally {
    store.close();
    await pg.server.close();
  }
}

/** A database failure (server down, login refused) is a plain message for a person, not a stack trace. */
function friendly<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (error) {
      if (error instanceof GraphError) throw new MsmError("DATABASE_FAILED", error.message);
      throw error;
    }
  };
}

export const runImport = friendly(runImportInner);
export const runExport = friendly(runExportInner);
export const runMigrate = friendly(runMigrateInner);
