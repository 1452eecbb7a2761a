import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import { MsmError } from "../../lib/errors.ts";
import { listLocks, readLock, releaseIfOwned } from "../../lib/lock.ts";
import { callSupervisor, type StopResult } from "../../lib/contracts/supervisor-api.ts";
import { findSupervisor, SUPERVISOR } from "../../lib/manager.ts";
import { paths } from "../../lib/paths.ts";
import { terminate } from "../../lib/proc.ts";

/** Stopping waits for SIGTERM's grace period and then some. */
const STOP_TIMEOUT_MS = 15_000;

/** "stopped memory (2 sessions attached: their next request starts it again)". */
export function stoppedLine(result: StopResult): string {
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
        const { stopped } = await callSupervisor(manager, "shutdown", {}, STOP_TIMEOUT_MS);
        for (const result of stopped) say(stoppedLine(result));
        say(stopped.length ? "stopped the supervisor" : "stopped the supervisor (no daemon was running)");
      } else {
        say(stoppedLine(await callSupervisor(manager, "stop", { name: args.name! }, STOP_TIMEOUT_MS)));
      }
      return;
    }
    // No supervisor: nobody will restart what we stop, so signal the daemons named by lock files directly.
    const names = args.all ? listLocks().map((l) => l.name) : [args.name!];
    const stopped: string[] = [];
    for (const name of names) {
      const lock = readLock(name);
      if (!lock) continue;
      await terminate(lock.pid, { group: name === SUPERVISOR ? false : (lock.group ?? true) });
      releaseIfOwned(paths.lock(name), lock.pid);
      stopped.push(name);
    }
    if (!args.all && stopped.length === 0) say(`${args.name} was not running`);
    else say(stopped.length ? `stopped ${stopped.join(", ")}` : "nothing was running");
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

function say(line: string): void {
  process.stdout.write(line + "\n");
}
