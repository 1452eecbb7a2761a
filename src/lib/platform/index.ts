import { darwin } from "./darwin.ts";
import { linux } from "./linux.ts";
import type { Platform } from "./types.ts";
import { windows, windowsSpawnCommand } from "./windows.ts";

/**
 * Facts about other processes, the one place that knows how each OS answers them: liveness, start times,
 * process groups, resident memory, connection counts, group kills and how to start a program without a shell.
 * Nothing outside platform/ reads /proc or calls ps, netstat or taskkill. Callers treat undefined as "cannot
 * tell", never as "dead".
 */
export const os: Platform = process.platform === "win32" ? windows : process.platform === "darwin" ? darwin : linux;

export type { Platform } from "./types.ts";

/** Is `pid` a running process (not a zombie)? */
export function isAlive(pid: number): boolean {
  return os.isAlive(pid);
}

/**
 * A value fixed for the life of `pid` (Linux: clock ticks since boot at its start). Recorded in lock files so a pid
 * the kernel later hands to another program is not mistaken for our daemon.
 */
export function startTicks(pid: number): string | undefined {
  return os.startTime(pid);
}

/** The command line of `pid` (undefined where this OS cannot tell); see Platform.commandLine. */
export function commandLine(pid: number): string | undefined {
  return os.commandLine?.(pid);
}

/** Resident memory of `pid` in bytes, if it can be read. */
export function rssBytes(pid: number): number | undefined {
  return os.rssBytes(pid);
}

/**
 * Resident memory of a whole process group (a daemon and whatever it spawned: `npx` → node, `uvx` → python), or
 * of `pid` alone where groups cannot be listed.
 */
export function groupRssBytes(pgid: number): number | undefined {
  const members = os.groupMembers(pgid);
  let total = 0;
  let found = false;
  for (const pid of members ?? []) {
    const rss = os.rssBytes(pid);
    if (rss !== undefined) {
      total += rss;
      found = true;
    }
  }
  return found ? total : os.rssBytes(pgid);
}

/** Is `pid` the leader of its own process group (started with setsid, as msm starts daemons)? */
export function leadsGroup(pid: number): boolean {
  return os.groupOf(pid) === pid;
}

/** Does any process still belong to process group `pgid` (e.g. children of a daemon whose leader died)? */
export function groupAlive(pgid: number): boolean {
  return os.groupAlive(pgid);
}

/** Is any live process left in group `pgid`? A group of zombies is gone; where members cannot be listed, trust groupAlive. */
export function groupHasLiveMember(pgid: number): boolean {
  if (!os.groupAlive(pgid)) return false;
  const members = os.groupMembers(pgid);
  return members === undefined || members.length > 0;
}

/** Sends `sig` to `pid`, or to the whole group -pid (Windows: the process tree) for a negative pid, as kill(2) does. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  if (pid < 0) return os.signalGroup(-pid, sig);
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
  return os.connectionsTo(port);
}

/** The argv that starts `argv` directly, without a shell (Windows resolves `npx`-style .cmd shims). */
export function resolveCommand(argv: string[]): string[] {
  return os.resolveCommand(argv);
}

/**
 * The argv to spawn a configured stdio server with, and whether it is one command line to pass verbatim. The same
 * argv elsewhere; on Windows a batch file (`npx` → npx.cmd) goes through cmd.exe with its arguments escaped for it.
 */
export function spawnCommand(argv: string[]): { cmd: string[]; windowsVerbatimArguments: boolean } {
  if (process.platform !== "win32") return { cmd: argv, windowsVerbatimArguments: false };
  const { cmd, verbatim } = windowsSpawnCommand(argv);
  return { cmd, windowsVerbatimArguments: verbatim };
}
