import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import { MsmError } from "../../lib/errors.ts";
import { listLocks, readLock, releaseIfOwned } from "../../lib/lock.ts";
import { callManager, findSupervisor, SUPERVISOR } from "../../lib/manager.ts";
import { paths } from "../../lib/paths.ts";
import { isAlive, terminate } from "../../lib/proc.ts";
import type { StopResult } from "../../supervisor/index.ts";

/** Stopping waits for SIGTERM's grace period and then some. */
const STOP_TIMEOUT_MS = 15_000;

/** After `stop --all`, how long the supervisor gets to exit before we say it did not. */
const SUPERVISOR_EXIT_MS = 5_000;

/** How to end a process by hand, as this OS spells it. */
const killHint = (pid: number) => (process.platform === "win32" ? `taskkill /F /T /PID ${pid}` : `kill -9 ${pid}`);

/**
 * "stopped memory (2 sessions attached: their next request starts it again)"; a daemon that outlived SIGTERM and
 * SIGKILL is said to be running, never stopped (it once was, while it ran on).
 */
export function stoppedLine(result: StopResult): string {
  if (result.survived !== undefined) return `${result.name} is still running: pid ${result.survived} did not exit when stopped (end it with: ${killHint(result.survived)})`;
  if (!result.stopped) return `${result.name} was not running`;
  if (!result.sessions) return `stopped ${result.name}`;
  const them = result.sessions === 1 ? "1 session attached: its" : `${result.sessions} sessions attached: their`;
  return `stopped ${result.name} (${them} next request starts it again)`;
}

export default defineCommand({
  meta: {
    name: "stop",
    description: "Stop a daemon until a session's next request; --all: every daemon and the supervisor",
  },
  args: {
    name: { type: "positional", description: "Target to stop", required: false },
    all: { type: "boolean", description: "Stop every daemon and the supervisor", default: false },
  },
  async run({ args }) {
    if (!args.name && !args.all) throw new MsmError("USAGE", `Name a target to stop ("msm stop memory"), or use "msm stop --all".`);
    if (args.name && args.all) throw new MsmError("USAGE", `Name a target or use --all, not both.`);
    if (args.name) knownTarget(args.name);
    const manager = await findSupervisor();
    if (manager) {
      if (args.all) {
        const { stopped } = await callManager<{ stopped: StopResult[] }>(manager, "POST", "/shutdown", STOP_TIMEOUT_MS);
        for (const result of stopped) say(stoppedLine(result));
        if (stopped.some((r) => r.survived !== undefined)) process.exitCode = 1;
        // It exits just after answering: say so only once it has.
        if (await gone(manager.pid, SUPERVISOR_EXIT_MS)) say(stopped.length ? "stopped the supervisor" : "stopped the supervisor (no daemon was running)");
        else {
          say(`the supervisor (pid ${manager.pid}) is still running (end it with: ${killHint(manager.pid)})`);
          process.exitCode = 1;
        }
      } else {
        const result = await callManager<StopResult>(manager, "POST", `/daemons/${encodeURIComponent(args.name!)}/stop`, STOP_TIMEOUT_MS);
        say(stoppedLine(result));
        if (result.survived !== undefined) process.exitCode = 1;
      }
      return;
    }
    // No supervisor: nobody will restart what we stop, so signal the daemons named by lock files directly.
    const names = args.all ? listLocks().map((l) => l.name) : [args.name!];
    const stopped: string[] = [];
    for (const name of names) {
      const lock = readLock(name);
      if (!lock) continue;
      const how = await terminate(lock.pid, { group: name === SUPERVISOR ? false : (lock.group ?? true) });
      if (how === "survived") {
        say(stoppedLine({ name, stopped: false, sessions: null, survived: lock.pid }));
        process.exitCode = 1;
        continue;
      }
      releaseIfOwned(paths.lock(name), lock.pid);
      stopped.push(name);
    }
    if (stopped.length) say(`stopped ${stopped.join(", ")}`);
    else if (process.exitCode !== 1) say(args.all ? "nothing was running" : `${args.name} was not running`);
  },
});

/**
 * `msm stop nope` is a typo, not "nope was not running". A name with a lock file is stoppable even when it has
 * left config.json (its daemon may still run); anything else must be a configured target.
 */
function knownTarget(name: string): void {
  if (name === "memory" || existsSync(paths.lock(name))) return;
  resolveTarget(loadConfig(), name);
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(25);
  }
  return true;
}

function say(line: string): void {
  process.stdout.write(line + "\n");
}
