import { exists, groupAlive, output, signalGroup } from "./posix.ts";
import type { Platform } from "./types.ts";

/**
 * macOS has no /proc: `ps` and `netstat` answer. Both ship with the OS; their output is read in the C locale and
 * UTC so that two msm processes with different settings read the same start time for the same process.
 */
const FIXED = { LC_ALL: "C", TZ: "UTC" };

function ps(fields: string, pid: number): string | undefined {
  return output(["ps", "-o", `${fields}=`, "-p", String(pid)], FIXED)?.trim() || undefined;
}

/** `netstat -an -p tcp` lines: "tcp4  0  0  127.0.0.1.3100  127.0.0.1.61234  ESTABLISHED". */
export function parseNetstatDarwin(text: string, port: number): number {
  let count = 0;
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0]?.startsWith("tcp") && fields[5] === "ESTABLISHED" && fields[3]?.endsWith(`.${port}`)) count++;
  }
  return count;
}

/** `ps -A -o pid=,pgid=,stat=` lines → live members of `pgid` (state Z is a zombie). */
export function parsePsGroups(text: string, pgid: number): number[] {
  const members: number[] = [];
  for (const line of text.split("\n")) {
    const [pid, group, stat] = line.trim().split(/\s+/);
    if (pid && group === String(pgid) && !stat?.startsWith("Z")) members.push(Number(pid));
  }
  return members;
}

export const darwin: Platform = {
  // launchd reaps orphans at once, so the zombie window Linux containers have does not arise: kill(pid, 0) is enough.
  isAlive: exists,
  startTime: (pid) => ps("lstart", pid),
  commandLine: (pid) => ps("command", pid),
  groupOf: (pid) => {
    const pgid = ps("pgid", pid);
    return pgid === undefined ? undefined : Number(pgid);
  },
  groupMembers: (pgid) => {
    const text = output(["ps", "-A", "-o", "pid=,pgid=,stat="], FIXED);
    return text === undefined ? undefined : parsePsGroups(text, pgid);
  },
  groupAlive,
  rssBytes: (pid) => {
    const kb = ps("rss", pid);
    return kb === undefined || !Number.isFinite(Number(kb)) ? undefined : Number(kb) * 1024;
  },
  connectionsTo: (port) => {
    const text = output(["netstat", "-an", "-p", "tcp"], FIXED);
    return text === undefined ? undefined : parseNetstatDarwin(text, port);
  },
  signalGroup,
  resolveCommand: (argv) => argv,
};
