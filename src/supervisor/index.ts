import { existsSync } from "node:fs";
import type { ConsolaInstance } from "consola";
import { loadConfig, resolveTarget, targetNames, type ResolvedTarget } from "../lib/config.ts";
import type { Endpoint } from "../lib/ensure.ts";
import { isMsmError, MsmError } from "../lib/errors.ts";
import { acquireLock, clearIfStale, listLocks, parseLockFile, readLock } from "../lib/lock.ts";
import { createLogger, rotateInPlace, tailLines } from "../lib/log.ts";
import { SUPERVISOR } from "../lib/manager.ts";
import { ensureHome, msmHome, paths } from "../lib/paths.ts";
import { groupHasLiveMember, isAlive, signal } from "../lib/proc.ts";
import { serveLoopback } from "../lib/http/serve.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";
import { createManagerApp } from "./api.ts";
import { Keeper, type TargetStatus } from "./keeper.ts";

/** How often deaths of adopted daemons (not our children) are looked for. */
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

/** What `msm stop` reports per daemon: sessions attached when it stopped (null = cannot tell). */
export interface StopResult {
  name: string;
  stopped: boolean;
  sessions: number | null;
  /** The daemon's pid when it is still running after SIGTERM and SIGKILL (stopped is false). */
  survived?: number;
}

function stopResult(name: string, outcome: Awaited<ReturnType<Keeper["stop"]>>, sessions: number | null): StopResult {
  if (typeof outcome === "object") return { name, stopped: false, sessions, survived: outcome.survived };
  return { name, stopped: outcome === "stopped", sessions };
}

export interface SupervisorStatus {
  supervisor: { pid: number; port: number; version: string; startedAt: string; uptimeSeconds: number; home: string };
  targets: TargetStatus[];
}

/** Owns every daemon of one MSM_HOME. The only code that starts daemons. */
export class Supervisor {
  private readonly keepers = new Map<string, Keeper>();
  private readonly startedAt = new Date();
  private leaving = false;
  port = 0;
  onExit: (reason: string) => void = () => process.exit(0);

  constructor(
    private readonly log: ConsolaInstance,
    private readonly token: string,
  ) {}

  /** The target as the config says now: config.json is re-read so a target added since we started just works. */
  private resolve(name: string): ResolvedTarget {
    return resolveTarget(loadConfig(), name);
  }

  private keeper(name: string): Keeper {
    let target: ResolvedTarget;
    try {
      target = this.resolve(name);
    } catch (error) {
      // Broken in config.json since it started: it can still be stopped (not started) under its old config.
      const known = this.keepers.get(name);
      if (known && isMsmError(error) && error.code === "CONFIG_INVALID" && known.state !== "stopped") return known;
      throw error;
    }
    let keeper = this.keepers.get(name);
    if (!keeper) {
      keeper = new Keeper(target, this.log, this.token);
      this.keepers.set(name, keeper);
    } else if (keeper.state !== "running" && keeper.state !== "starting") {
      keeper.target = target;
    }
    return keeper;
  }

  /**
   * Startup: every configured target gets a keeper; live daemons are adopted from their locks, stale locks are
   * cleared, and processes left in a dead daemon's group (what an external server spawned) are killed.
   */
  adoptAll(): void {
    for (const name of targetNames(loadConfig())) {
      const keeper = this.keeper(name);
      const lock = readLock(name);
      if (lock) {
        keeper.adopt(lock);
        continue;
      }
      const stale = parseLockFile(paths.lock(name));
      if (stale?.group && !isAlive(stale.pid) && groupHasLiveMember(stale.pid)) {
        this.log.warn(`${name}: killing processes left over from dead daemon pid ${stale.pid}`);
        signal(-stale.pid, "SIGKILL");
      }
      clearIfStale(name);
    }
    for (const { name, info } of listLocks()) {
      if (name !== SUPERVISOR && !this.keepers.has(name) && info) this.log.warn(`${name}.lock names a target that is not in the config; leaving it alone`);
    }
  }

  /** `passive`: a session's event stream reconnecting, which never starts a stopped daemon (see Keeper.ensure). */
  ensure(name: string, timeoutMs?: number, options: { passive?: boolean } = {}): Promise<Endpoint> {
    return this.keeper(name).ensure(timeoutMs, options);
  }

  /** Stops one daemon; says how many sessions were attached (their next request starts it again). */
  async stop(name: string): Promise<StopResult> {
    const keeper = this.keeper(name);
    const sessions = await keeper.attached();
    return stopResult(name, await keeper.stop(), sessions);
  }

  /** Restart re-reads the target's config: changed args, env or idleMinutes apply now, not at some later start. */
  restart(name: string): Promise<Endpoint> {
    const target = this.resolve(name);
    return this.keeper(name).restart(target);
  }

  /** A stdio host's child for one project, restarted inside the host: its sessions stay connected. */
  restartChild(name: string, project: string): Promise<Endpoint & { restarted: string[] }> {
    return this.keeper(name).restartChild(project);
  }

  async stopAll(): Promise<StopResult[]> {
    const keepers = [...this.keepers.values()];
    const results = await Promise.all(
      keepers.map(async (k) => {
        const sessions = await k.attached();
        return stopResult(k.target.name, await k.stop("stopped by msm stop --all"), sessions);
      }),
    );
    return results.filter((r) => r.stopped || r.survived !== undefined);
  }

  logs(name: string, lines: number): string[] {
    if (name !== SUPERVISOR) this.resolve(name);
    return tailLines(paths.log(name), lines);
  }

  async status(): Promise<SupervisorStatus> {
    for (const name of targetNames(loadConfig())) {
      try {
        this.keeper(name);
      } catch {}
    }
    const keepers = [...this.keepers.values()];
    await Promise.all(keepers.map((k) => k.refreshStats()));
    return {
      supervisor: {
        pid: process.pid,
        port: this.port,
        version: VERSION,
        startedAt: this.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
        home: msmHome(),
      },
      targets: keepers.map((k) => k.status()),
    };
  }

  async checkHealth(): Promise<void> {
    await Promise.all([...this.keepers.values()].map((k) => k.checkHealth().catch((e) => this.log.warn(`${k.target.name}: ${(e as Error).message}`))));
  }

  watch(): void {
    // MSM_HOME deleted under us (a test's temp dir, a user's rm -rf): nothing left to supervise or to adopt later.
    if (!existsSync(msmHome())) {
      if (!this.leaving) {
        this.leaving = true;
        void this.stopAll().finally(() => this.exit(`${msmHome()} was removed`));
      }
      return;
    }
    for (const keeper of this.keepers.values()) keeper.check();
  }

  async activity(): Promise<void> {
    for (const keeper of this.keepers.values()) await keeper.checkActivity().catch((e) => this.log.warn(`${keeper.target.name}: ${(e as Error).message}`));
  }

  rotateLogs(): void {
    for (const name of [SUPERVISOR, ...this.keepers.keys()]) {
      if (rotateInPlace(paths.log(name))) this.log.info(`rotated ${paths.log(name)}`);
    }
  }

  exit(reason: string): void {
    for (const keeper of this.keepers.values()) keeper.dispose();
    this.onExit(reason);
  }
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
  // The server keeps the process alive; the timers must not (docs/architecture.md, house rules: timers unref'd).
  for (const timer of timers) timer.unref();
  supervisor.rotateLogs();

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
