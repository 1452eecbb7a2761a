/** The supervisor process: its lock, the manager API's server, and the timers that drive every keeper. */
import { loadConfig } from "../lib/config.ts";
import { MsmError } from "../lib/errors.ts";
import { serveLoopback } from "../lib/http/serve.ts";
import { acquireLock } from "../lib/lock.ts";
import { createLogger } from "../lib/log.ts";
import { SUPERVISOR } from "../lib/manager.ts";
import { ensureHome, paths } from "../lib/paths.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";
import { createManagerApp } from "./api.ts";
import { Supervisor } from "./supervisor.ts";

/** How often deaths of adopted daemons (not our children) are looked for, and config.json's stat compared. */
export const WATCH_INTERVAL_MS = 500;
/** How often running daemons are asked for their health (a frozen one is replaced after keeper.HANG_MS). */
export const HEALTH_INTERVAL_MS = 2_000;
/** How often sessions/requests/connections are sampled and idle daemons stopped. */
export const ACTIVITY_INTERVAL_MS = 5_000;
/** How often daemon logs are checked against the rotation size. */
export const LOG_CHECK_INTERVAL_MS = 30_000;

export interface SupervisorOptions {
  port?: number;
  detached: boolean;
}

/** Set per editor session; the supervisor serves every session, so daemons must not inherit the first one's. */
const SESSION_ENV = ["CLAUDE_PROJECT_DIR", "MSM_PROJECT_DIR"];

export async function runSupervisor(options: SupervisorOptions): Promise<void> {
  for (const key of SESSION_ENV) delete process.env[key];
  ensureHome();
  const log = createLogger({ file: paths.log(SUPERVISOR), tag: SUPERVISOR, stderr: !options.detached });
  const config = loadConfig();
  const token = loadToken();
  const info = { pid: process.pid, port: 0, transport: "http" as const, startedAt: new Date().toISOString(), version: VERSION };
  const lock = acquireLock(SUPERVISOR, info);
  if ("existing" in lock) {
    log.info(`a supervisor is already running (pid ${lock.existing.pid}, port ${lock.existing.port})`);
    return;
  }

  const supervisor = new Supervisor(log, token);
  let server: ReturnType<typeof serveLoopback>;
  try {
    supervisor.adoptAll();
    server = serveLoopback(createManagerApp(supervisor, token).fetch, options.port ?? config.supervisor.port);
  } catch (error) {
    lock.release();
    throw error instanceof MsmError ? error : new MsmError("PORT_BUSY", `The supervisor could not start: ${(error as Error).message}`);
  }
  supervisor.port = server.port ?? 0;
  lock.update({ ...info, port: supervisor.port });
  const wanted = options.port ?? config.supervisor.port;
  if (wanted > 0 && wanted !== supervisor.port) log.warn(`port ${wanted} was busy; manager API took ${supervisor.port} instead`);
  log.info(`manager API on http://127.0.0.1:${supervisor.port} (pid ${process.pid}, version ${VERSION})`);

  const timers = [
    setInterval(() => supervisor.watch(), WATCH_INTERVAL_MS),
    setInterval(() => void supervisor.checkHealth(), HEALTH_INTERVAL_MS),
    setInterval(() => void supervisor.activity(), ACTIVITY_INTERVAL_MS),
    setInterval(() => supervisor.rotateLogs(), LOG_CHECK_INTERVAL_MS),
  ];
  // The server keeps the process alive; the timers must not (STYLE: timers unref'd).
  for (const timer of timers) timer.unref();
  supervisor.rotateLogs();
  // Edits of config.json apply from here on, without `msm restart`.
  supervisor.watchConfig();

  // Leaving daemons running is the point: they serve sessions without us, and the next supervisor adopts them.
  supervisor.onExit = (reason) => {
    log.info(`${reason}: exiting (daemons keep running)`);
    for (const timer of timers) clearInterval(timer);
    lock.release();
    server.stop(true);
    process.exit(0);
  };
  process.on("SIGTERM", () => supervisor.exit("SIGTERM"));
  process.on("SIGINT", () => supervisor.exit("SIGINT"));
  process.on("SIGHUP", () => supervisor.exit("SIGHUP"));
}
