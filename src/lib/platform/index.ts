import { errnoCode } from "../errors.ts";
import { allPids, connectionsTo as linuxConnectionsTo, procRssBytes, procStat } from "./linux.ts";

/**
 * Facts about other processes, the one place that knows how each OS answers them. Linux answers from /proc;
 * elsewhere `ps` fills in what it can and the rest is undefined (callers treat undefined as "cannot tell", never
 * as "dead").
 */

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
 * Resident memory of a whole process group (a daemon and whatever it spawned: `npx` → node, `uvx` → python), or
 * of `pid` alone where groups cannot be listed.
 */
export function groupRssBytes(pgid: number): number | undefined {
  if (process.platform !== "linux") return rssBytes(pgid);
  let total = 0;
  let found = false;
  try {
    for (const pid of allPids()) {
      const stat = procStat(pid);
      if (stat?.[2] !== String(pgid) || stat[0] === "Z") continue;
      const rss = rssBytes(pid);
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
  const fromProc = procRssBytes(pid);
  if (fromProc !== undefined) return fromProc;
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

/** Is any non-zombie process left in group `pgid`? A group of zombies is gone; without /proc, trust kill(-pgid, 0). */
export function groupHasLiveMember(pgid: number): boolean {
  if (!groupAlive(pgid)) return false;
  if (process.platform !== "linux") return true;
  try {
    for (const pid of allPids()) {
      const stat = procStat(pid);
      // stat[0] is the state, stat[2] the pgid.
      if (stat && stat[2] === String(pgid) && stat[0] !== "Z") return true;
    }
    return false;
  } catch {
    return true;
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

/**
 * Established TCP connections to a local port. A session's proxy holds its GET event stream (and pooled
 * keep-alive sockets) open, so "no connection" is a good sign that nobody uses the daemon — for external servers,
 * which tell msm nothing, it is the only sign. undefined where it cannot be counted.
 */
export function connectionsTo(port: number): number | undefined {
  return linuxConnectionsTo(port);
}
