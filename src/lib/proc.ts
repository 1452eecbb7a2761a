import { readFileSync } from "node:fs";
import { groupAlive, groupHasLiveMember, isAlive, leadsGroup, signal } from "./platform/index.ts";

/** Process facts live in platform/ (one module per OS); this re-export keeps the callers' imports short. */
export { groupAlive, groupHasLiveMember, groupRssBytes, isAlive, leadsGroup, rssBytes, signal, startTicks } from "./platform/index.ts";

/** How long a daemon gets after SIGTERM before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 3_000;
const EXIT_POLL_MS = 20;

/**
 * Ends a daemon: SIGTERM, then SIGKILL after `graceMs`. With `group`, every process in the daemon's process group
 * gets the signals (daemons run as their own session leader, so pgid = pid): an external server started through a
 * wrapper (npx, uvx, a shell) must not leave its real server behind as an orphan holding the port.
 */
export async function terminate(pid: number, options: { group: boolean; graceMs?: number }): Promise<"exited" | "killed"> {
  // A daemon someone ran by hand in a terminal is not a group leader: its group is the shell's job, not ours.
  const group = options.group && groupAlive(pid) && (leadsGroup(pid) || !isAlive(pid));
  const target = group ? -pid : pid;
  const running = () => (group ? groupHasLiveMember(pid) : isAlive(pid));
  if (!running()) return "exited";
  signal(target, "SIGTERM");
  const deadline = Date.now() + (options.graceMs ?? SHUTDOWN_GRACE_MS);
  while (Date.now() < deadline) {
    if (!running()) return "exited";
    await Bun.sleep(EXIT_POLL_MS);
  }
  signal(target, "SIGKILL");
  const killDeadline = Date.now() + 1_000;
  while (Date.now() < killDeadline && running()) await Bun.sleep(EXIT_POLL_MS);
  return "killed";
}

/** The command line of `pid` (arguments joined by spaces), if it can be read (Linux /proc, else `ps`). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {}
  if (process.platform === "linux" || process.platform === "win32") return undefined;
  try {
    return Bun.spawnSync(["ps", "-o", "command=", "-p", String(pid)]).stdout.toString().trim() || undefined;
  } catch {
    return undefined;
  }
}
