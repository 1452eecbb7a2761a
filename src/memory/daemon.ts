import { randomUUID } from "node:crypto";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { loadConfig } from "../lib/config.ts";
import { MsmError } from "../lib/errors.ts";
import { createBaseApp } from "../lib/http.ts";
import { onResponseDone, SessionTable } from "../lib/http/sessions.ts";
import { acquireLock } from "../lib/lock.ts";
import { createLogger } from "../lib/log.ts";
import { ensureHome, paths } from "../lib/paths.ts";
import { MAX_BODY_BYTES, serveLoopback } from "../lib/serve.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";
import { namesDatabase, openGraphSource, type GraphSource } from "./backend.ts";
import { requestProject } from "./databases.ts";
import { createMemoryServer, Subscriptions } from "./server.ts";
import { MemoryTransport } from "./transport.ts";

export const PROJECT_HEADER = "mcp-project-path";

interface Session {
  transport: MemoryTransport;
  server: McpServer;
  /** Ends the session's server (the table calls it when the session expires or is deleted); once only. */
  close: () => void;
}

/**
 * The memory daemon's HTTP app: MCP over streamable HTTP at /mcp, one SDK transport + server per session. Sessions
 * with no open stream and no request for `sessionIdleMs` are closed (a SIGKILLed proxy never sends DELETE).
 */
export function createMemoryApp(token: string, databases: GraphSource, options: { sessionIdleMs?: number } = {}) {
  const app = createBaseApp(token);
  const sessions = new SessionTable<Session>(options.sessionIdleMs);
  sessions.start();
  const subscriptions = new Subscriptions();
  // For the supervisor's status and idle shutdown (GET /stats, token required like everything but /health).
  let requests = 0;
  app.get("/stats", (c) => c.json({ sessions: sessions.size, requests }));

  const openSession = async (): Promise<Session> => {
    const server = createMemoryServer(databases, subscriptions);
    const transport = new MemoryTransport({
      databases,
      subscriptions,
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.add(id, session);
      },
      onsessionclosed: (id) => {
        sessions.delete(id, "closed by its client");
      },
      maxRequestBodySize: MAX_BODY_BYTES,
    });
    let closed = false;
    const session: Session = {
      transport,
      server,
      close: () => {
        if (closed) return;
        closed = true;
        void server.close().catch(() => {});
      },
    };
    transport.onclose = () => {
      closed = true;
      if (transport.sessionId) sessions.delete(transport.sessionId, "transport closed");
      subscriptions.forget(server);
    };
    await server.connect(transport);
    return session;
  };

  app.all("/mcp", async (c) => {
    requests++;
    const id = c.req.header("mcp-session-id");
    let session: Session | undefined;
    if (id) {
      session = sessions.get(id);
      // 404 tells a client its session is gone (daemon restarted): it must initialize again (spec, session management).
      if (!session) return c.json({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }, 404);
    } else if (c.req.method === "POST") {
      session = await openSession();
    } else {
      return c.json({ jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: Mcp-Session-Id header is required" }, id: null }, 400);
    }
    const project = c.req.header(PROJECT_HEADER);
    // The session is busy until the answer (or the event stream) is over: only then does its idle time run.
    const end = id ? sessions.requestStarted(id) : () => {};
    let response: Response;
    try {
      response = await requestProject.run(project, () => session.transport.handleRequest(c.req.raw));
    } catch (error) {
      end();
      throw error;
    }
    // A POST without a session that did not initialize one (not an initialize request) leaves an orphan server.
    if (!id && !session.transport.sessionId) await session.server.close();
    return onResponseDone(response, end, c.req.raw.signal);
  });

  const closeAll = async () => {
    const servers = sessions.values().map((s) => s.server);
    sessions.closeAll("daemon stopping");
    await Promise.allSettled(servers.map((server) => server.close()));
  };
  return { app, sessions, closeAll };
}

export interface MemoryDaemonOptions {
  port: number;
  /** Started by a proxy or the supervisor: log to the file only (stdout/stderr are already the log file). */
  detached: boolean;
}

export async function runMemoryDaemon(options: MemoryDaemonOptions): Promise<void> {
  ensureHome();
  const log = createLogger({ file: paths.log("memory"), tag: "memory", stderr: !options.detached });
  const token = loadToken();
  const startedAt = new Date().toISOString();
  const lock = acquireLock("memory", { pid: process.pid, port: 0, transport: "streamable-http", startedAt, version: VERSION, path: "/mcp" });
  if ("existing" in lock) {
    log.info(`already running (pid ${lock.existing.pid}, port ${lock.existing.port}); nothing to do`);
    return;
  }
  const config = loadConfig();
  // A broken memory entry runs memory on its defaults, except when it names a database: a mistyped URL must not
  // quietly put a team's writes in local SQLite files.
  if (config.broken.memory && namesDatabase()) {
    lock.release();
    log.error(config.broken.memory);
    throw new MsmError("CONFIG_INVALID", config.broken.memory);
  }
  if (config.error) log.warn(config.error);
  const memory = config.targets.memory;
  const databases = openGraphSource(memory && "database" in memory ? memory.database : undefined, { info: (m) => log.info(m), warn: (m) => log.warn(m) });
  const { app, closeAll } = createMemoryApp(token, databases);
  let server;
  try {
    server = serveLoopback(app.fetch, options.port);
  } catch (error) {
    lock.release();
    throw error;
  }
  const port = server.port ?? 0;
  lock.update({ pid: process.pid, port, transport: "streamable-http", startedAt, version: VERSION, path: "/mcp" });
  log.info(`listening on http://127.0.0.1:${port}/mcp (pid ${process.pid}, version ${VERSION})`);
  if (port !== options.port && options.port > 0) log.warn(`port ${options.port} was busy; took ${port} instead`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    lock.release();
    await closeAll();
    server.stop(true);
    await databases.closeAll();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
}
