import { readFileSync } from "node:fs";
import type { ChildStatus } from "../lib/host-status.ts";

/**
 * Established TCP connections to a local port, from /proc/net/tcp{,6}. A session's proxy holds its GET event stream
 * (and pooled keep-alive sockets) open, so "no connection" is a good sign that nobody uses the daemon — for external
 * servers, which tell msm nothing, it is the only sign. undefined where there is no /proc.
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

/** What msm's own daemons report at `/stats` (authenticated); a stdio host adds its children. */
export interface DaemonStats {
  sessions: number;
  requests: number;
  children?: ChildStatus[];
}

/** Asks an msm daemon for its counters; undefined for daemons without /stats (older builds, external servers). */
export async function fetchStats(port: number, token: string, timeoutMs = 1_000): Promise<DaemonStats | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/stats`, {
      headers: { authorization: `Bearer ${token}`, connection: "close" },
      keepalive: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as Partial<DaemonStats>;
    if (typeof body.sessions !== "number" || typeof body.requests !== "number") return undefined;
    return { sessions: body.sessions, requests: body.requests, ...(Array.isArray(body.children) ? { children: body.children } : {}) };
  } catch {
    return undefined;
  }
}
