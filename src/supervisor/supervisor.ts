import { existsSync } from "node:fs";
import type { ConsolaInstance } from "consola";
import { loadConfig, resolveTarget, targetNames, type ResolvedTarget } from "../lib/config.ts";
import type { Endpoint, StopResult, SupervisorStatus } from "../lib/contracts/supervisor-api.ts";
import { isMsmError } from "../lib/errors.ts";
import { clearIfStale, listLocks, parseLockFile, readLock } from "../lib/lock.ts";
import { rotateInPlace, tailLines } from "../lib/log.ts";
import { SUPERVISOR } from "../lib/manager.ts";
import { msmHome, paths } from "../lib/paths.ts";
import { groupHasLiveMember, isAlive, signal } from "../lib/proc.ts";
import { VERSION } from "../lib/version.ts";
import { Keeper } from "./keeper.ts";

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

  /** Restart re-reads the target's config: changed args, env or idle stops apply now, not at some later start. */
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

function stopResult(name: string, outcome: Awaited<ReturnType<Keeper["stop"]>>, sessions: number | null): StopResult {
  if (typeof outcome === "object") return { name, stopped: false, sessions, survived: outcome.survived };
  return { name, stopped: outcome === "stopped", sessions };
}
