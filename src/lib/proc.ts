import { commandLine, groupAlive, groupHasLiveMember, isAlive, leadsGroup, signal, startTicks } from "./platform/index.ts";

/** Process facts live in platform/ (one module per OS); this re-export keeps the callers' imports short. */
export { commandLine, groupAlive, groupHasLiveMember, groupRssBytes, isAlive, leadsGroup, rssBytes, signal, startTicks } from "./platform/index.ts";

/** What a lock file records to recognise the process that wrote it. */
export interface ProcessRecord {
  pid: number;
  /** startTicks() of `pid` when the lock was written. */
  pidStart?: string;
  /** commandLine() of `pid`, when the process wrote the lock itself. */
  command?: string;
}

/**
 * Is the process a lock names still the one that wrote it — so safe to send a token to, or a signal? Dead (or a
 * zombie) → no. Where /proc tells start times: a record without one was never written by msm for this process (a
 * hand-made or foreign file) → no; a different start time means the kernel reused the pid for another program → no.
 * A recorded command line must match too. Where nothing can be checked (no /proc), a live pid is trusted.
 */
export function processMatches(record: ProcessRecord): boolean {
  if (!Number.isInteger(record.pid) || record.pid <= 0 || !isAlive(record.pid)) return false;
  const started = startTicks(record.pid);
  if (started !== undefined && started !== record.pidStart) return false;
  if (record.command !== undefined) {
    const command = commandLine(record.pid);
    if (command !== undefined && command !== record.command) return false;
  }
  return true;
}

/** How long a daemon gets after SIGTERM before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 3_000;
const EXIT_POLL_MS = 20;
/** How long a SIGKILLed daemon (its whole group) gets to disappear before it counts as having survived. */
const KILL_WAIT_MS = 2_000;

/**
 * Ends a daemon: SIGTERM, then SIGKILL after `graceMs`. With `group`, every process in the daemon's process group
 * gets the signals (daemons run as their own session leader, so pgid = pid): an external server started through a
 * wrapper (npx, uvx, a shell) must not leave its real server behind as an orphan holding the port.
 */
export async function terminate(pid: number, options: { group: boolean; graceMs?: number }): Promise<"exited" | "killed" | "survived"> {
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
  const killDeadline = Date.now() + KILL_WAIT_MS;
  while (Date.now() < killDeadline && running()) await Bun.sleep(EXIT_POLL_MS);
  // Still there (a signal that could not be sent: another user's process; on Windows a taskkill that failed):
  // callers must not report it stopped.
  return running() ? "survived" : "killed";
}
