/**
 * The memory folder's public face: what the `msm memory` commands run. Each part loads on demand: the daemon never
 * loads import/export/migrate, and they never load the MCP server.
 */
import type { MemoryDaemonOptions } from "./mcp/daemon.ts";

export type { MemoryDaemonOptions } from "./mcp/daemon.ts";

/** `msm memory` (serve): the daemon, until it is stopped. */
export async function runMemoryDaemon(options: MemoryDaemonOptions): Promise<void> {
  return (await import("./mcp/daemon.ts")).runMemoryDaemon(options);
}

/** `msm memory import FILE`: an official memory file into the project's (or the home) graph. */
export async function runImport(file: string | undefined, project: string | undefined): Promise<void> {
  return (await import("./transfer/commands.ts")).runImport(file, project);
}

/** `msm memory export`: the graph as official JSONL, to stdout or a file. */
export async function runExport(project: string | undefined, output: string | undefined): Promise<void> {
  return (await import("./transfer/commands.ts")).runExport(project, output);
}

/** `msm memory migrate`: a project's graph between its SQLite file and PostgreSQL. */
export async function runMigrate(options: { to?: string; from?: string; project?: string }): Promise<void> {
  return (await import("./transfer/commands.ts")).runMigrate(options);
}
