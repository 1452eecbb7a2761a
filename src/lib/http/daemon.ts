import { randomUUID } from "node:crypto";
import type { Server } from "bun";
import type { Hono } from "hono";
import { acquireLock } from "../lock.ts";
import { MAX_BODY_BYTES, serveLoopback } from "./serve.ts";
import { VERSION } from "../version.ts";
import type { Expirable, SessionTable } from "./sessions.ts";
import { formatWireAddress } from "../contracts/wire.ts";
import { msmHome } from "../paths.ts";
import { loadToken } from "../token.ts";
import { serveWire, wireSocketPath, type WireHelloInfo, type WireLink, type WireServer, type WireSession } from "../wire/server.ts";

/**
 * What msm's own daemons (memory, a stdio host, a remote relay) share: the way they start and stop, and — for the two
 * that hold MCP sessions themselves — the `/mcp` route that finds a request's session. Each daemon keeps only what
 * differs: what a session is, how its answers are tracked, what runs behind it.
 */

/** The parts of a session's SDK transport the route needs. */
interface SessionTransport {
  sessionId?: string;
  handleRequest(request: Request): Promise<Response>;
}

export interface McpSession extends Expirable {
  transport: SessionTransport;
}

export interface McpRoute<S extends McpSession> {
  /** A POST without a session id: the session it may become (an initialize gives it an id). */
  open(): Promise<S>;
  /** Hands the request to the session's transport (the memory daemon runs it inside the request's project). */
  handle?(session: S, request: Request): Promise<Response>;
  /** The answer on its way to the client; `done` once it is delivered, so the session's idle time runs again. */
  deliver(session: S, response: Response, done: () => void, request: Request): Response;
  /** Every request, first (counters, idle collection). */
  seen?(): void;
}

/**
 * Options for a session's SDK transport: a random session id, the session put in the table when its client
 * initializes (`initialized` hears the id first) and closed when the client DELETEs it. Bodies up to MAX_BODY_BYTES
 * (the SDK's own cap is 4 MiB).
 */
export function sessionTransportOptions<S extends Expirable>(sessions: SessionTable<S>, session: () => S, initialized?: (id: string) => void) {
  return {
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id: string) => {
      initialized?.(id);
      sessions.add(id, session());
    },
    onsessionclosed: (id: string) => {
      sessions.delete(id, "closed by its client");
    },
    maxRequestBodySize: MAX_BODY_BYTES,
  };
}

/**
 * `/mcp` for a daemon with one MCP session per editor session: a request with `Mcp-Session-Id` goes to that session
 * (GET stream, DELETE, calls: the transport tells them apart), a POST without one may open a session (initialize),
 * anything else is refused. The app's guard (lib/http/app.ts) has already checked Host, Origin and the token.
 */
export function routeMcp<S extends McpSession>(app: Hono, sessions: SessionTable<S>, route: McpRoute<S>): void {
  app.all("/mcp", async (c) => {
    route.seen?.();
    const id = c.req.header("mcp-session-id");
    let session: S | undefined;
    if (id) {
      session = sessions.get(id);
      // 404 tells a client its session is gone (daemon restarted, session expired): it must initialize again
      // (spec, session management).
      if (!session) return c.json({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }, 404);
    } else if (c.req.method === "POST") {
      session = await route.open();
    } else {
      return c.json({ jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: Mcp-Session-Id header is required" }, id: null }, 400);
    }
    // A held call is in flight until it is answered (an event stream, until it ends): a session waiting on a slow
    // answer is busy, not idle.
    const started = id ? sessions.requestStarted(id) : undefined;
    // The client's GET stream: when it closes for good, the client is gone (a SIGKILLed proxy sends no DELETE).
    const listening = id && c.req.method === "GET" ? sessions.listenerOpened(id) : undefined;
    const inFlight =
      started &&
      (() => {
        started();
        listening?.();
      });
    let response: Response;
    try {
      response = await (route.handle ? route.handle(session, c.req.raw) : session.transport.handleRequest(c.req.raw));
    } catch (error) {
      inFlight?.();
      throw error;
    }
    if (inFlight) return route.deliver(session, response, inFlight, c.req.raw);
    const opened = session.transport.sessionId;
    if (!opened) {
      // Not an initialize: nothing was created that anyone could reach again.
      session.close("not an initialize request");
      return response;
    }
    return route.deliver(session, response, sessions.streamOpened(opened), c.req.raw);
  });
}

interface DaemonLog {
  info(message: string): void;
  warn(message: string): void;
}

/** A daemon's app, built once its lock is taken. */
export interface DaemonApp {
  fetch: (request: Request, server: Server<unknown>) => Response | Promise<Response>;
  /** The line that says the daemon is up. */
  listening(port: number): string;
  /** What it says it does when a signal ends it ("shutting down" when unset). */
  stopping?: string;
  /** Before the server stops: end sessions and children. */
  close?(): void | Promise<void>;
  /** After the server stopped: what requests still in flight used until then (the memory daemon's databases). */
  closed?(): void | Promise<void>;
  /**
   * Proxies may also reach this daemon on the line wire (contracts/wire.ts): the session of one connection, opened
   * once its hello carried the token. Without it the daemon speaks HTTP only.
   */
  openWire?(link: WireLink, hello: WireHelloInfo): WireSession;
  /** Why its sessions close when it stops, as its log says it (default "the daemon is stopping"). */
  sessionsStopping?: string;
  /** The line wire's message and queue limits (msm's message limit by default). */
  wireLimits?: { maxLineBytes: number; queueLimit: number };
}

export interface DaemonOptions<A extends DaemonApp> {
  /** The target's name: `<name>.lock`. */
  name: string;
  /** Published in the lock, so a proxy knows which daemon it talks to without reading config. */
  kind: "memory" | "host" | "remote";
  log: DaemonLog;
  /** Tried first; a busy one gives way to a free port (the lock says which). 0: any. */
  port: number;
  /** Builds the app; a throw releases the lock. */
  start(): A | Promise<A>;
}

/**
 * The life of one of msm's daemons: take `<name>.lock` (another live one: nothing to do), serve on loopback, publish
 * the port, and on SIGTERM/SIGINT/SIGHUP release the lock first (so a successor may start), then stop. Returns the
 * app being served, or undefined when another process is the daemon.
 */
export async function runDaemon<A extends DaemonApp>(options: DaemonOptions<A>): Promise<A | undefined> {
  const { log } = options;
  const info = {
    pid: process.pid,
    port: 0,
    transport: "streamable-http" as const,
    startedAt: new Date().toISOString(),
    version: VERSION,
    path: "/mcp",
    auth: "bearer" as const,
    kind: options.kind,
  };
  const lock = acquireLock(options.name, info);
  if ("existing" in lock) {
    log.info(`already running (pid ${lock.existing.pid}, port ${lock.existing.port}); nothing to do`);
    return undefined;
  }
  let daemon: A;
  let server: Server<unknown>;
  try {
    daemon = await options.start();
    server = serveLoopback(daemon.fetch, options.port);
  } catch (error) {
    lock.release();
    throw error;
  }
  const port = server.port ?? 0;
  const wire = startWire(daemon, options.name, log);
  lock.update({ ...info, port, ...(wire ? { wire: formatWireAddress(wire.address) } : {}) });
  log.info(daemon.listening(port));
  if (port !== options.port && options.port > 0) log.warn(`port ${options.port} was busy; took ${port} instead`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: ${daemon.stopping ?? "shutting down"}`);
    lock.release();
    // Proxies on the line wire hear which of their lines were read (a bye), then find the next daemon.
    wire?.stop(daemon.sessionsStopping ?? "the daemon is stopping");
    await daemon.close?.();
    server.stop(true);
    await daemon.closed?.();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  return daemon;
}

/**
 * The line wire next to the daemon's HTTP port, when the daemon takes it. A wire that cannot listen is no failure:
 * proxies find no `wire` in the lock and speak HTTP, as to an msm before the wire.
 */
function startWire(daemon: DaemonApp, name: string, log: DaemonLog): WireServer | undefined {
  if (!daemon.openWire) return undefined;
  const open = daemon.openWire.bind(daemon);
  const limits = daemon.wireLimits ?? { maxLineBytes: MAX_BODY_BYTES, queueLimit: MAX_BODY_BYTES };
  try {
    return serveWire({ token: loadToken(), socketPath: wireSocketPath(msmHome(), name), open, ...limits, version: VERSION, log });
  } catch (error) {
    log.warn(`the line wire could not listen (${(error as Error).message}); proxies use HTTP`);
    return undefined;
  }
}
