/**
 * `GET /stats` of msm's own daemons (memory, a stdio host, a remote relay; bearer token required): what the
 * supervisor samples for `msm status` and the idle stop. The daemons answer with these types, the supervisor and the
 * CLI read them with fetchStats.
 */

export const STATS_PATH = "/stats";

/** What a stdio host daemon tells the supervisor about each child it runs, shown by `msm status`. */
export interface ChildStatus {
  /** The project folder the child serves ("project" share), "global", or the session's project ("session"). */
  project: string | null;
  share: "project" | "global" | "session";
  state: "starting" | "running" | "backoff" | "failed" | "stopped";
  pid: number | null;
  uptimeSeconds: number | null;
  restarts: number;
  sessions: number;
  rssBytes: number | null;
  /** Why it failed or was restarted, with the child's last stderr lines when it failed. */
  note: string | null;
  lastStderr: string[];
  /** What its sessions declared (protocol version, capabilities): only sessions that agree share a child. */
  variant?: string;
  /** Its sessions' calls take turns, so every request of the server's own has one certain session. */
  takesTurns?: boolean;
  /** Which child of its pool (`instances` above 1), from 1: sessions that would share one spread over several. */
  instance?: number;
}

/** The answer as a daemon sends it. A relay cannot count sessions (`null`): its answer is not used. */
export interface StatsAnswer {
  sessions: number | null;
  requests: number;
  /**
   * Proxies connected on the line wire (contracts/wire.ts): open connections the supervisor cannot count at the port,
   * since they reach the daemon's socket.
   */
  wireConnections?: number;
  /** A stdio host's children. */
  children?: ChildStatus[];
}

/** A host daemon's answer. */
export interface HostStats extends StatsAnswer {
  sessions: number;
  children: ChildStatus[];
}

/** The answer as the supervisor uses it: counted sessions and requests. */
export interface DaemonStats {
  sessions: number;
  requests: number;
  /** Open line-wire connections (StatsAnswer.wireConnections); 0 from a daemon that does not say. */
  wireConnections: number;
  children?: ChildStatus[];
}

/** Asks an msm daemon for its counters; undefined for daemons without /stats (older builds, external servers). */
export async function fetchStats(port: number, token: string, timeoutMs = 1_000): Promise<DaemonStats | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${STATS_PATH}`, {
      headers: { authorization: `Bearer ${token}`, connection: "close" },
      keepalive: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as Partial<StatsAnswer>;
    if (typeof body.sessions !== "number" || typeof body.requests !== "number") return undefined;
    const wireConnections = typeof body.wireConnections === "number" ? body.wireConnections : 0;
    return { sessions: body.sessions, requests: body.requests, wireConnections, ...(Array.isArray(body.children) ? { children: body.children } : {}) };
  } catch {
    return undefined;
  }
}
