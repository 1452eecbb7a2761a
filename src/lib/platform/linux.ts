import { readdirSync, readFileSync } from "node:fs";

/** Linux answers every question about other processes from /proc: no child process, no parsing of `ps`. */

/** Fields of /proc/<pid>/stat from field 3 (state) on; undefined when the process is gone or /proc is absent. */
export function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Every numeric entry of /proc, i.e. every pid; throws when /proc cannot be read. */
export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** Resident memory from /proc/<pid>/status (VmRSS). */
export function procRssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    if (match) return Number(match[1]) * 1024;
  } catch {}
  return undefined;
}

/**
 * Established TCP connections to a local port, from /proc/net/tcp{,6}. undefined where there is no /proc.
 */
export function connectionsTo(port: number): number | undefined {
  let count = 0;
  let readable = false;
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields[1] local address:port, fields[3] state; 01 = ESTABLISHED.
      if (fields[3] === "01" && fields[1]?.endsWith(`:${hexPort}`)) count++;
    }
  }
  return readable ? count : undefined;
}
