import { readdirSync, readFileSync } from "node:fs";
import { errnoCode } from "./errors.ts";

/**
 * Facts about other processes. Linux answers from /proc; elsewhere `ps` fills in what it can and the rest is
 * undefined (callers treat undefined as "cannot tell", never as "dead").
 */

function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * Is `pid` a running process? EPERM means it exists but belongs to someone else: still alive. A zombie is dead:
 * a daemon whose parent already exited is reparented to PID 1, and some inits (containers, VMs) reap only every
 * second or so, which made every "wait until the daemon is gone" take over a second after it had exited.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errnoCode(error) !== "EPERM") return false;
  }
  return procStat(pid)?.[0] !== "Z";
}

/**
 * When `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22). Recorded in lock files so a pid that
 * the kernel later hands to another program is not mistaken for our daemon. undefined where there is no /proc.
 */
export function startTicks(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/**
 * The command line of `pid` (arguments joined by spaces), undefined where there is no /proc. Recorded in the locks
 * msm's own processes write for themselves: msm never rewrites its argv, while some servers do (npm sets its title),
 * so it is only compared where the lock's writer was the process itself.
 */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

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

/**
 * Resident memory of a whole process group (a daemon and whatever it spawned: `npx` → node, `uvx` → python), or
 * of `pid` alone where groups cannot be listed.
 */
export function groupRssBytes(pgid: number): number | undefined {
  if (process.platform !== "linux") return rssBytes(pgid);
  let total = 0;
  let found = false;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = procStat(Number(entry));
      if (stat?.[2] !== String(pgid) || stat[0] === "Z") continue;
      const rss = rssBytes(Number(entry));
      if (rss !== undefined) {
        total += rss;
        found = true;
      }
    }
  } catch {}
  return found ? total : rssBytes(pgid);
}

/** Resident memory of `pid` in bytes, if it can be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    if (match) return Number(match[1]) * 1024;
  } catch {}
  if (process.platform === "linux") return undefined;
  try {
    const out = Bun.spawnSync(["ps", "-o", "rss=", "-p", String(pid)]).stdout.toString().trim();
    return out ? Number(out) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Is `pid` the leader of its own process group (started with setsid, as msm starts daemons)? */
export function leadsGroup(pid: number): boolean {
  const stat = procStat(pid);
  if (stat) return stat[2] === String(pid);
  try {
    return Bun.spawnSync(["ps", "-o", "pgid=", "-p", String(pid)]).stdout.toString().trim() === String(pid);
  } catch {
    return false;
  }
}

/** Does any process still belong to process group `pgid` (e.g. children of a daemon whose leader died)? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

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

/** Is any non-zombie process left in group `pgid`? A group of zombies is gone; without /proc, trust kill(-pgid, 0). */
export function groupHasLiveMember(pgid: number): boolean {
  if (!groupAlive(pgid)) return false;
  if (process.platform !== "linux") return true;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = procStat(Number(entry));
      // stat[0] is the state, stat[2] the pgid.
      if (stat && stat[2] === String(pgid) && stat[0] !== "Z") return true;
    }
    return false;
  } catch {
    return true;
  }
}
