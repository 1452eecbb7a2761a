import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { loadConfig, memoryTarget, type ResolvedTarget } from "../../lib/config.ts";
import { takeDaemonTarget } from "../../lib/contracts/daemon-argv.ts";
import { MsmError } from "../../lib/errors.ts";
import { STATS_PATH, type StatsAnswer } from "../../lib/contracts/stats.ts";
import { createBaseApp } from "../../lib/http/app.ts";
import { routeMcp, runDaemon, sessionTransportOptions } from "../../lib/http/daemon.ts";
import { decodeProjectHeader, PROJECT_HEADER } from "../../lib/http/headers.ts";
import { onResponseDone, SessionTable } from "../../lib/http/sessions.ts";
import { createLogger } from "../../lib/log.ts";
import { ensureHome, paths } from "../../lib/paths.ts";
import { loadToken } from "../../lib/token.ts";
import { VERSION } from "../../lib/version.ts";
import { openGraphSource } from "../source.ts";
import type { GraphSource } from "../types.ts";
import { requestProject } from "../sqlite/databases.ts";
import { createMemoryServer, Subscriptions } from "./server.ts";
import { MemoryTransport } from "./transport.ts";
import { openMemoryWire } from "./wire.ts";
import type { WireHelloInfo, WireLink, WireSession } from "../../lib/wire/server.ts";

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
  let wireSessions = 0;
  app.get(STATS_PATH, (c) => c.json({ sessions: sessions.size + wireSessions, requests, wireConnections: wireSessions } satisfies StatsAnswer));

  /** A proxy's connection on the line wire: one session, as over HTTP, for as long as the connection lives. */
  const openWire = (link: WireLink, hello: WireHelloInfo): WireSession => {
    wireSessions++;
    const session = openMemoryWire(databases, subscriptions, link, hello, () => wireSessions--);
    return {
      message: (message, raw) => {
        requests++;
        session.message(message, raw);
      },
      closed: (reason) => session.closed(reason),
    };
  };

  const openSession = async (): Promise<Session> => {
    const server = createMemoryServer(databases, subscriptions);
    const transport = new MemoryTransport({ databases, subscriptions, ...sessionTransportOptions(sessions, () => session) });
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

  routeMcp(app, sessions, {
    open: openSession,
    // Each request is served in the project its proxy names (the database it reads and writes).
    handle: (session, request) => requestProject.run(decodeProjectHeader(request.headers.get(PROJECT_HEADER)), () => session.transport.handleRequest(request)),
    // The session is busy until the answer (or the event stream) is over: only then does its idle time run.
    deliver: (_session, response, done, request) => onResponseDone(response, done, request.signal),
    seen: () => void requests++,
  });

  const closeAll = async () => {
    const servers = sessions.values().map((s) => s.server);
    sessions.closeAll("daemon stopping");
    await Promise.allSettled(servers.map((server) => server.close()));
  };
  return { app, sessions, closeAll, openWire };
}

export interface MemoryDaemonOptions {
  port: number;
  /** Started by a proxy or the supervisor: log to the file only (stdout/stderr are already the log file). */
  detached: boolean;
}

export async function runMemoryDaemon(options: MemoryDaemonOptions): Promise<void> {
  ensureHome();
  const log = createLogger({ file: paths.log("memory"), tag: "memory", stderr: !options.detached });
  await runDaemon({
    kind: "memory",
    name: "memory",
    log,
    port: options.port,
    start: () => {
      // As the supervisor has it in force when it started us (the last good entry while config.json is broken);
      // by hand, as config.json says.
      const handed = takeDaemonTarget("memory") as Extract<ResolvedTarget, { kind: "builtin" }> | undefined;
      const config = handed ? undefined : loadConfig();
      const memory = handed ?? memoryTarget(config!);
      // A broken memory entry runs memory on its defaults, except when it names a database: a mistyped URL must not
      // quietly put a team's writes in local SQLite files.
      if (memory.databaseError) {
        log.error(memory.databaseError);
        throw new MsmError("CONFIG_INVALID", memory.databaseError);
      }
      if (config?.error) log.warn(config.error);
      const databases = openGraphSource(memory.database, { info: (m) => log.info(m), warn: (m) => log.warn(m) });
      const { app, closeAll, openWire } = createMemoryApp(loadToken(), databases);
      return {
        fetch: app.fetch,
        openWire,
        sessionsStopping: "daemon stopping",
        listening: (port) => `listening on http://127.0.0.1:${port}/mcp (pid ${process.pid}, version ${VERSION})`,
        close: closeAll,
        closed: () => databases.closeAll(),
      };
    },
  });
}
