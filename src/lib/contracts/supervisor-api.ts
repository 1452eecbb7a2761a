/**
 * The supervisor's manager API (127.0.0.1, bearer token on everything but /health): every route, what it takes and
 * what it answers, and the one client every caller uses. supervisor/api.ts serves exactly these routes; no caller
 * declares an answer type of its own. Plain fetch, no Hono client: proxies load this (through lib/ensure.ts) and
 * must stay lean.
 */
import type { ResolvedTarget, Transport } from "../config.ts";
import { MsmError } from "../errors.ts";
import type { ChildStatus } from "./stats.ts";

/** A running supervisor's manager API, as supervisor.lock and the token name it. */
export interface Manager {
  pid: number;
  port: number;
  token: string;
}

/** Where a target's daemon answers (`POST /daemons/:name/ensure` and `/restart`). */
export interface Endpoint {
  url: string;
  transport: Transport;
  pid: number;
  /** The msm version that started the daemon; a proxy of another version says so in its log. */
  version?: string;
  /** Where the daemon takes proxies on the line wire (its lock's `wire`), when it does. */
  wire?: string;
}

/** A keeper's states. */
export type DaemonState = "stopped" | "starting" | "running" | "backoff" | "failed";
/**
 * What status shows: a running daemon that does not answer its health check is `unresponsive`; a running host with
 * a failed child (whose sessions get errors until `msm restart`) is `degraded`; a stopped target whose sessions are
 * answered from the discovery cache until their first real call is `cached`.
 */
export type ShownState = DaemonState | "unresponsive" | "degraded" | "cached";

/** One row of `GET /status`. */
export interface TargetStatus {
  name: string;
  kind: ResolvedTarget["kind"];
  state: ShownState | "invalid";
  pid: number | null;
  port: number | null;
  transport: string;
  url: string | null;
  /** The msm version that started the daemon (from its lock); differs from the supervisor's after an upgrade. */
  version: string | null;
  uptimeSeconds: number | null;
  restarts: number;
  sessions: number | null;
  connections: number | null;
  requests: number | null;
  rssBytes: number | null;
  /** The daemon stops after this many minutes without sessions or requests (0 = never). */
  idleMinutes: number;
  /** A hosted server's children stop this many minutes after their last session left (absent from older supervisors). */
  childIdleMinutes?: number;
  /** Why it is failed or stopped (crash loop, idle, stopped by a command), with the last log lines when failed. */
  note: string | null;
  lastLog: string[];
  /** A stdio host's children (one per project, per session, or one global); absent for other targets. */
  children?: ChildStatus[];
  /** The discovery cache: entries (projects × client shapes) and the newest one's age; absent from older supervisors. */
  cache?: { entries: number; ageSeconds: number | null };
}

/** The supervisor itself, as `GET /status` describes it. */
export interface SupervisorInfo {
  pid: number;
  port: number;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  home: string;
}

/**
 * What the supervisor makes of config.json (edits apply live: docs/configuration.md). Absent from supervisors older
 * than live config; the CLI then reads the file itself.
 */
export interface ConfigState {
  file: string;
  /** When the config in force was read: the last edit that applied (a rejected one does not count). */
  appliedAt: string;
  /** What is wrong with the file as it is now, one message per problem, naming the key and the line when known. */
  problems: string[];
  /** Broken target entries by name, with their message. */
  broken: Record<string, string>;
  /** The last edit was rejected as a whole (not JSON, an unknown top-level key, not the user's): the last good config stays in force. */
  keptAll: boolean;
  /** Targets whose entry is broken now and whose last good entry stays in force. */
  kept: string[];
  /** Settings the file changed that apply only when the supervisor restarts, each saying how. */
  needsRestart: string[];
}

export interface SupervisorStatus {
  supervisor: SupervisorInfo;
  targets: TargetStatus[];
  config?: ConfigState;
}

/** What `msm stop` reports per daemon: sessions attached when it stopped (null = cannot tell). */
export interface StopResult {
  name: string;
  stopped: boolean;
  sessions: number | null;
  /** The daemon's pid when it is still running after SIGTERM and SIGKILL (stopped is false). */
  survived?: number;
}

/** The routes: method, path (`:name` is the target) and the query parameters each reads. */
export const ROUTES = {
  status: { method: "GET", path: "/status", query: [] },
  /** `passive=1`: a session's event stream reconnecting — answered 409 NOT_RUNNING rather than starting a stopped daemon. */
  ensure: { method: "POST", path: "/daemons/:name/ensure", query: ["timeoutMs", "passive"] },
  stop: { method: "POST", path: "/daemons/:name/stop", query: [] },
  /** With `project`: a stdio host restarts that project's child only, its sessions kept. */
  restart: { method: "POST", path: "/daemons/:name/restart", query: ["project"] },
  logs: { method: "GET", path: "/daemons/:name/logs", query: ["lines"] },
  /**
   * The target as the supervisor's config in force has it: a proxy asks when config.json is broken now, so a new
   * session still reaches what the supervisor keeps serving (the last good entry).
   */
  target: { method: "GET", path: "/daemons/:name/target", query: [] },
  /** `msm ui`: a one-time login URL for the dashboard. */
  uiLogin: { method: "POST", path: "/ui-login", query: [] },
  /** `msm stop --all`: every daemon, then the supervisor itself (after answering). */
  shutdown: { method: "POST", path: "/shutdown", query: [] },
} as const;

export type Route = keyof typeof ROUTES;

/** What each route takes: the target's name where the path has one, and its query parameters. */
export interface RouteParams {
  status: Record<string, never>;
  ensure: { name: string; timeoutMs?: number; passive?: boolean };
  stop: { name: string };
  restart: { name: string; project?: string };
  logs: { name: string; lines?: number };
  target: { name: string };
  uiLogin: Record<string, never>;
  shutdown: Record<string, never>;
}

/** What each route answers (2xx). Any failure answers `{code, message}`, which the client throws as that MsmError. */
export interface RouteAnswers {
  status: SupervisorStatus;
  ensure: Endpoint;
  stop: StopResult;
  /** `restarted`: the project folders whose child was restarted (with `project` only). */
  restart: Endpoint & { restarted?: string[] };
  logs: { lines: string[] };
  target: { target: ResolvedTarget };
  uiLogin: { url: string };
  shutdown: { stopped: StopResult[] };
}

/** The path and query of one call, as the supervisor's router reads them. */
export function routeUrl<R extends Route>(route: R, params: RouteParams[R]): string {
  const spec = ROUTES[route];
  const values = params as Record<string, string | number | boolean | undefined>;
  const path = spec.path.replace(":name", () => encodeURIComponent(String(values.name)));
  const query = (spec.query as readonly string[])
    .filter((key) => values[key] !== undefined && values[key] !== false)
    .map((key) => `${key}=${encodeURIComponent(values[key] === true ? "1" : String(values[key]))}`);
  return query.length ? `${path}?${query.join("&")}` : path;
}

/**
 * Calls the manager API. A non-2xx answer carrying `{code, message}` becomes that MsmError, so a proxy or a command
 * prints exactly what the supervisor said to do next.
 */
export async function callSupervisor<R extends Route>(manager: Manager, route: R, params: RouteParams[R], timeoutMs: number): Promise<RouteAnswers[R]> {
  const path = routeUrl(route, params);
  let response: Response;
  try {
    response = await fetch(`http://127.0.0.1:${manager.port}${path}`, {
      method: ROUTES[route].method,
      headers: { authorization: `Bearer ${manager.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new MsmError("SUPERVISOR_UNREACHABLE", `The msm supervisor (pid ${manager.pid}) did not answer ${path}: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) {
    throw new MsmError(
      (body.code as MsmError["code"]) ?? "SUPERVISOR_UNREACHABLE",
      body.message ?? `The msm supervisor answered ${response.status} to ${path}.`,
    );
  }
  return body as RouteAnswers[R];
}
