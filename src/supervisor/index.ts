import { loadConfig, resolveTarget } from "../lib/config.ts";
import { ensureDaemon } from "../lib/ensure.ts";
import { createBaseApp } from "../lib/http.ts";
import { acquireLock, listLocks } from "../lib/lock.ts";
import { createLogger } from "../lib/log.ts";
import { ensureHome, paths } from "../lib/paths.ts";
import { serveLoopback } from "../lib/serve.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";

/** How often the supervisor checks that every target's daemon is up. */
export const WATCH_INTERVAL_MS = 2_000;

export interface SupervisorOptions {
  port?: number;
  detached: boolean;
}

export async function runSupervisor(options: SupervisorOptions): Promise<void> {
  ensureHome();
  const log = createLogger({ file: paths.log("supervisor"), tag: "supervisor", stderr: !options.detached });
  const config = loadConfig();
  const token = loadToken();
  const startedAt = new Date().toISOString();
  const info = { pid: process.pid, port: 0, transport: "http" as const, startedAt, version: VERSION };
  const lock = acquireLock("supervisor", info);
  if ("existing" in lock) {
    log.info(`a supervisor is already running (pid ${lock.existing.pid}, port ${lock.existing.port})`);
    return;
  }

  const app = createBaseApp(token);
  app.get("/status", (c) => c.json({ version: VERSION, pid: process.pid, daemons: listLocks() }));
  const server = serveLoopback(app.fetch, options.port ?? config.supervisor.port);
  lock.update({ ...info, port: server.port ?? 0 });
  log.info(`manager API on http://127.0.0.1:${server.port} (pid ${process.pid})`);

  const targets = ["memory", ...Object.keys(config.targets).filter((n) => n !== "memory")].map((n) => resolveTarget(config, n));
  const watch = async () => {
    for (const target of targets) {
      try {
        await ensureDaemon(target);
      } catch (error) {
        log.error(`${target.name}: ${(error as Error).message}`);
      }
    }
  };
  await watch();
  const timer = setInterval(() => void watch(), WATCH_INTERVAL_MS);

  const stop = (signal: string) => {
    log.info(`${signal}: stopping (daemons keep running)`);
    clearInterval(timer);
    lock.release();
    server.stop(true);
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
