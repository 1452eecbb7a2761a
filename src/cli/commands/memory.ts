import { defineCommand } from "citty";
import { DAEMON_ARGS, parsePort } from "../../lib/contracts/daemon-argv.ts";

// The parent declares the daemon's flags too (see DAEMON_ARGS): `msm memory --detached --port 3100` is how the
// supervisor starts it.
const serveArgs = DAEMON_ARGS.memory;

const projectArg = {
  project: {
    type: "string",
    description: "Project folder whose graph to use: its .claude/memory.db, or its project id on PostgreSQL (default: the home graph)",
  },
} as const;

const serve = defineCommand({
  meta: { name: "serve", description: "Run the memory daemon (the default when no subcommand is given)" },
  args: serveArgs,
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    const { runMemoryDaemon } = await import("../../memory/index.ts");
    const port = args.port !== undefined ? parsePort(args.port) : resolveTarget(loadConfig(), "memory").port;
    await runMemoryDaemon({ port, detached: args.detached });
  },
});

const importCommand = defineCommand({
  meta: { name: "import", description: "Import an official memory file (memory.jsonl or legacy memory.json) into msm's database" },
  args: {
    file: { type: "positional", required: false, description: "The file to import (default: $MEMORY_FILE_PATH)" },
    ...projectArg,
  },
  async run({ args }) {
    const { runImport } = await import("../../memory/index.ts");
    await runImport(args.file || process.env.MEMORY_FILE_PATH, args.project);
  },
});

const exportCommand = defineCommand({
  meta: { name: "export", description: "Write the graph as official memory JSONL (stdout, or --output FILE)" },
  args: {
    ...projectArg,
    output: { type: "string", alias: "o", description: "Write to this file (atomically) instead of stdout" },
  },
  async run({ args }) {
    const { runExport } = await import("../../memory/index.ts");
    await runExport(args.project, args.output);
  },
});

const migrateCommand = defineCommand({
  meta: {
    name: "migrate",
    description: "Copy a project's graph between its SQLite file and a PostgreSQL database (--to URL or --from URL; safe to repeat)",
  },
  args: {
    to: { type: "string", description: "Copy the SQLite graph into this PostgreSQL database (postgres://user@host/db)" },
    from: { type: "string", description: "Copy the graph from this PostgreSQL database back into the SQLite file" },
    ...projectArg,
  },
  async run({ args }) {
    const { runMigrate } = await import("../../memory/index.ts");
    await runMigrate({ to: args.to, from: args.from, project: args.project });
  },
});

export default defineCommand({
  meta: {
    name: "memory",
    description: "The built-in knowledge-graph memory: run the daemon (MCP over streamable HTTP on 127.0.0.1), import, export or migrate to/from PostgreSQL",
  },
  args: serveArgs,
  subCommands: { serve, import: importCommand, export: exportCommand, migrate: migrateCommand },
  default: "serve",
});
