/** What a stdio host daemon tells the supervisor about each child it runs (GET /stats), shown by `msm status`. */
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
  /** The server sends requests of its own (sampling, elicitation): its sessions' calls take turns. */
  takesTurns?: boolean;
}

/** GET /stats of a host daemon (token required). */
export interface HostStats {
  sessions: number;
  requests: number;
  children: ChildStatus[];
}
