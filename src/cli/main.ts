import { defineCommand, runCommand, type CommandDef } from "citty";
import { isAbsolute, resolve } from "node:path";
import { msmEnv } from "../lib/env.ts";
import { errnoCode, isMsmError } from "../lib/errors.ts";
import { VERSION_LINE } from "../lib/version.ts";
import { HELP_FLAGS, resolveCommand, UsageError } from "./args.ts";
import { useColor } from "./style.ts";
import { renderUsage } from "./usage.ts";

/** Loaded on demand: `msm proxy` must not pay for SQLite, Hono or the memory server it never uses. */
const commands = {
  proxy: () => import("./commands/proxy.ts").then((m) => m.default),
  supervisor: () => import("./commands/supervisor.ts").then((m) => m.default),
  memory: () => import("./commands/memory.ts").then((m) => m.default),
  host: () => import("./commands/host.ts").then((m) => m.default),
  status: () => import("./commands/status.ts").then((m) => m.default),
  stop: () => import("./commands/stop.ts").then((m) => m.default),
  restart: () => import("./commands/restart.ts").then((m) => m.default),
  refresh: () => import("./commands/refresh.ts").then((m) => m.default),
  "upgrade-daemons": () => import("./commands/upgrade-daemons.ts").then((m) => m.default),
  service: () => import("./commands/service.ts").then((m) => m.default),
  logs: () => import("./commands/logs.ts").then((m) => m.default),
  ui: () => import("./commands/ui.ts").then((m) => m.default),
  "generate-config": () => import("./commands/generate-config.ts").then((m) => m.default),
  install: () => import("./commands/install.ts").then((m) => m.default),
  import: () => import("./commands/import.ts").then((m) => m.default),
  uninstall: () => import("./commands/uninstall.ts").then((m) => m.default),
  doctor: () => import("./commands/doctor.ts").then((m) => m.default),
  login: () => import("./commands/login.ts").then((m) => m.default),
  logout: () => import("./commands/logout.ts").then((m) => m.default),
  remote: () => import("./commands/remote.ts").then((m) => m.default),
  secret: () => import("./commands/secret.ts").then((m) => m.default),
};

export const root = defineCommand({
  meta: {
    name: "msm",
    version: VERSION_LINE,
    description: "MCP session manager: many editor sessions share one daemon per MCP server",
  },
  subCommands: commands as unknown as Record<string, () => Promise<CommandDef>>,
});

/** Exit codes as gh and docker use them: 2 for a command line that cannot be run, 1 for a run that failed. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export async function main(argv: string[]): Promise<void> {
  absoluteHome();
  let path = ["msm"];
  try {
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
      process.stdout.write(`${VERSION_LINE}\n`);
      return;
    }
    const end = argv.indexOf("--");
    if (argv.length === 0 || (end < 0 ? argv : argv.slice(0, end)).some((a) => HELP_FLAGS.includes(a))) {
      const { cmd, path: helpPath } = await resolveCommand(root, argv, false);
      // stdout is the JSON-RPC wire in proxy mode: help goes to stderr there.
      const helpStream = argv[0] === "proxy" ? process.stderr : process.stdout;
      helpStream.write(await renderUsage(cmd, helpPath, useColor(helpStream), VERSION_LINE));
      return;
    }
    path = (await resolveCommand(root, argv, true)).path;
    if (!DAEMONS.includes(path.slice(1).join(" "))) quietOnClosedPipe();
    await runCommand(root, { rawArgs: argv });
  } catch (error) {
    // `msm memory export | head -1`: the reader has all it wanted. Not an error, nothing to say.
    if (errnoCode(error) === "EPIPE") process.exit(0);
    if (error instanceof UsageError) path = error.path;
    if (isMsmError(error)) {
      process.stderr.write(`msm: ${error.message}\n`);
      if (error.code !== "USAGE") process.exit(EXIT_FAILURE);
      process.stderr.write(`Run "${path.join(" ")} --help" for usage.\n`);
      process.exit(EXIT_USAGE);
    }
    if (error instanceof Error && error.name === "CLIError") {
      // citty's own checks (a missing required argument).
      process.stderr.write(`msm: ${error.message}\nRun "${path.join(" ")} --help" for usage.\n`);
      process.exit(EXIT_USAGE);
    }
    throw error;
  }
}

/**
 * A relative MSM_HOME would mean another directory to every daemon msm starts (they run in MSM_HOME, not here):
 * resolve it once, before anything reads it or passes it on.
 */
function absoluteHome(): void {
  const home = msmEnv().home;
  if (home && !isAbsolute(home)) process.env.MSM_HOME = resolve(home);
}

/** Long-running commands that keep their own crash handling (the proxy must outlive an odd error). */
const DAEMONS = ["proxy", "supervisor", "memory", "memory serve", "host", "remote"];

/**
 * A closed stdout (a pager or `head` that quit) ends the command quietly instead of with an EPIPE stack trace.
 * Caught as the uncaught error it becomes, not with a listener on process.stdout: creating that stream switches
 * fd 1 to non-blocking, and the synchronous writes of `msm memory export` then fail with EAGAIN.
 */
function quietOnClosedPipe(): void {
  // Bun reports a failed process.stdout.write as an unhandled rejection, a failed sync write as an exception.
  const onError = (error: unknown) => {
    if (errnoCode(error) === "EPIPE") process.exit(0);
    process.stderr.write(`msm: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(EXIT_FAILURE);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
}
