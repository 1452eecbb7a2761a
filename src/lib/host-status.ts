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

/**
 * Why a running host is `degraded`: the children that failed (a crash loop, a command that cannot run), whose
 * sessions get errors until `msm restart`. Undefined when none did. The host process itself is fine, so its own
 * state alone would say `running` while a project's sessions fail.
 */
export function failedChildrenNote(children: ChildStatus[] | undefined): string | undefined {
  const failed = (children ?? []).filter((c) => c.state === "failed");
  if (!failed.length) return undefined;
  const label = (c: ChildStatus) => (c.project ? `the child for ${c.project}` : "the global child");
  const reasons = failed.map((c) => `${label(c)} failed: ${c.note ?? "it keeps exiting"}`).join("; ");
  return failed.length === 1 ? reasons : `${failed.length} of ${children!.length} children failed: ${reasons}`;
}
