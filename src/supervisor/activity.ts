import type { ChildStatus } from "../lib/host-status.ts";

export { connectionsTo } from "../lib/platform/index.ts";

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
