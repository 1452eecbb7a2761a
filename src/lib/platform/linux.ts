import { readdirSync, readFileSync } from "node:fs";
import { exists, groupAlive, signalGroup } from "./posix.ts";
import type { Platform } from "./types.ts";

/** Linux answers every question from /proc: no child process, no parsing of `ps`. */

/** Fields of /proc/<pid>/stat from field 3 (state) on; undefined when the process is gone or /proc is absent. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** Established TCP connections to a local port, from /proc/net/tcp{,6} (state 01 = ESTABLISHED). */
export function parseProcNetTcp(text: string, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let count = 0;
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // fields[1] local address:port, fields[3] state.
    if (fields[3] === "01" && fields[1]?.endsWith(`:${hexPort}`)) count++;
  }
  return count;
}

export const linux: Platform = {
  /**
   * A zombie is dead: a daemon whose parent already exited is reparented to PID 1, and some inits (containers,
   * VMs) reap only every second or so, which made every "wait until the daemon is gone" take over a second.
   */
  isAlive: (pid) => exists(pid) && procStat(pid)?.[0] !== "Z",
  /** Clock ticks since boot when the process started (/proc/<pid>/stat field 22). */
  startTime: (pid) => procStat(pid)?.[19],
  commandLine: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
    } catch {
      return undefined;
    }
  },
  groupOf: (pid) => {
    const pgid = procStat(pid)?.[2];
    return pgid === undefined ? undefined : Number(pgid);
  },
  groupMembers: (pgid) => {
    try {
      return allPids().filter((pid) => {
        const stat = procStat(pid);
        // stat[0] is the state, stat[2] the pgid.
        return stat !== undefined && stat[2] === String(pgid) && stat[0] !== "Z";
      });
    } catch {
      return undefined;
    }
  },
  groupAlive,
  rssBytes: (pid) => {
    try {
      const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) return Number(match[1]) * 1024;
    } catch {}
    return undefined;
  },
  connectionsTo: (port) => {
    let count = 0;
    let readable = false;
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      try {
        count += parseProcNetTcp(readFileSync(table, "utf8"), port);
        readable = true;
      } catch {}
    }
    return readable ? count : undefined;
  },
  signalGroup,
  resolveCommand: (argv) => argv,
};
