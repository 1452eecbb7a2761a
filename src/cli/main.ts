import { defineCommand, renderUsage, runCommand, runMain, type ArgsDef, type CommandDef } from "citty";
import { isMsmError } from "../lib/errors.ts";
import { VERSION_LINE } from "../lib/version.ts";

/** Loaded on demand: `msm proxy` must not pay for SQLite, Hono or the memory server it never uses. */
const commands = {
  proxy: () => import("./commands/proxy.ts").then((m) => m.default),
  supervisor: () => import("./commands/supervisor.ts").then((m) => m.default),
  memory: () => import("./commands/memory.ts").then((m) => m.default),
  host: () => import("./commands/host.ts").then((m) => m.default),
  status: () => import("./commands/status.ts").then((m) => m.default),
  stop: () => import("./commands/stop.ts").then((m) => m.default),
  restart: () => import("./commands/restart.ts").then((m) => m.default),
  "upgrade-daemons": () => import("./commands/upgrade-daemons.ts").then((m) => m.default),
  service: () => import("./commands/service.ts").then((m) => m.default),
  logs: () => import("./commands/logs.ts").then((m) => m.default),
  ui: () => import("./commands/ui.ts").then((m) => m.default),
  "generate-config": () => import("./commands/generate-config.ts").then((m) => m.default),
  install: () => import("./commands/install.ts").then((m) => m.default),
  import: () => import("./commands/import.ts").then((m) => m.default),
  uninstall: () => import("./commands/uninstall.ts").then((m) => m.default),
  doctor: () => import("./commands/doctor.ts").then((m) => m.default),
};

export const root = defineCommand({
  meta: {
    name: "msm",
    version: VERSION_LINE,
    description: "MCP session manager: many editor sessions share one daemon per MCP server",
  },
  subCommands: commands as unknown as Record<string, () => Promise<CommandDef>>,
});

/** citty prints usage with console.log (stdout); proxy mode keeps stdout for JSON-RPC only. */
async function usageToStderr<T extends ArgsDef = ArgsDef>(cmd: CommandDef<T>, parent?: CommandDef<T>): Promise<void> {
  process.stderr.write((await renderUsage(cmd, parent)) + "\n");
}

export async function main(argv: string[]): Promise<void> {
  const wantsHelpOrVersion = argv.length === 0 || argv.some((a) => a === "--help" || a === "-h") || (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v"));
  const showUsage = argv[0] === "proxy" ? usageToStderr : undefined;
  if (wantsHelpOrVersion) {
    await runMain(root, { rawArgs: argv.length ? argv : ["--help"], showUsage });
    return;
  }
  try {
    await runCommand(root, { rawArgs: argv });
  } catch (error) {
    if (isMsmError(error)) {
      process.stderr.write(`msm: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof Error && error.name === "CLIError") {
      // Unknown command or bad arguments: say so on stderr and point at the usage, like a CLI should.
      const sub = argv[0] && argv[0] in commands ? ` ${argv[0]}` : "";
      process.stderr.write(`msm: ${error.message}\nRun "msm${sub} --help" for usage.\n`);
      process.exit(2);
    }
    throw error;
  }
}
