import type { ConsolaInstance } from "consola";
import type { ResolvedTarget } from "../lib/config.ts";
import type { DaemonState, Endpoint, TargetStatus } from "../lib/contracts/supervisor-api.ts";
import { endpointOf } from "../lib/ensure.ts";
import { MsmError } from "../lib/errors.ts";
import { ownerAlive, readLock, releaseIfOwned, type LockInfo } from "../lib/lock.ts";
import { HOST_LIVE_KEYS } from "./config-state.ts";
import { pushHostSettings, restartHostChild } from "../lib/contracts/host-api.ts";
import { fetchStats, type ChildStatus } from "../lib/contracts/stats.ts";
import { connectionsTo } from "../lib/platform/index.ts";
import { formatMinutes } from "../lib/format.ts";
import { tailLines } from "../lib/log.ts";
import { paths } from "../lib/paths.ts";
import { answers, probe } from "../lib/probe.ts";
import { groupHasLiveMember, isAlive, leadsGroup, signal, terminate } from "../lib/proc.ts";
import { RestartPolicy, backoffSteps } from "../lib/restart-policy.ts";
import { skewNote } from "../lib/skew.ts";
import { launch, note, StartFailed } from "./launch.ts";
import { daemonRss, targetRow } from "./status.ts";
import { cacheSummary } from "../lib/discovery-cache.ts";

/** The restart policy's waits (lib/restart-policy.ts; MSM_BACKOFF_MS replaces them), as read when this loaded. */
export const BACKOFF_MS = backoffSteps();
/**
 * A death counts toward `failed` only if the daemon had been healthy for less than this: a server that cannot start
 * or dies on its first requests is broken, one that ran and was killed from outside (an OOM killer, a person) is
 * unlucky, and is simply restarted however often that happens.
 */
export const EARLY_DEATH_MS = 5_000;
/** How long a running daemon may leave its health check unanswered before it counts as hung and is replaced. */
export const HANG_MS = 15_000;
/**
 * One health probe's limit. Generous: a daemon's event loop may be busy for seconds (a big write), and only a
 * daemon that stays silent for HANG_MS is replaced — a long tool call alone never is.
 */
export const HEALTH_PROBE_TIMEOUT_MS = 2_000;
/** Log lines kept with a `failed` state, so `msm status` shows why without opening the log. */
export const FAILED_LOG_LINES = 6;
/** msm's own notes in a daemon log ("starting …", "exited …"): left out of the failure excerpt, the daemon's words matter. */
const MSM_NOTE = / \[msm\] /;

/** A keeper's states (the contract's DaemonState). */
export type State = DaemonState;

/**
 * Owns one target's daemon: starts it on demand, notices when it dies (as its parent, or by polling a pid it
 * adopted), restarts it with backoff, gives up into `failed` on a crash loop, stops it on request or when idle.
 */
export class Keeper {
  state: State = "stopped";
  private lock: LockInfo | undefined;
  private runningSince = 0;
  /** Restarts after unasked exits since this supervisor started (shown in status). */
  private restarts = 0;
  /** Unasked exits in a row, and the backoff before the next start. */
  private readonly policy = new RestartPolicy({ steps: BACKOFF_MS, stableAfterMs: EARLY_DEATH_MS });
  private starting: Promise<LockInfo> | undefined;
  private backoffTimer: Timer | undefined;
  private stopping: Promise<"stopped" | "not running" | { survived: number }> | undefined;
  private note: string | null = null;
  /** The last start failed on a reference that could not be resolved (see unresolvedStart). */
  private unresolved = false;
  private lastLog: string[] = [];
  private lastActivity = Date.now();
  private lastRequests: number | undefined;
  private stats: { sessions: number | null; requests: number | null; connections: number | null; children?: ChildStatus[] } = {
    sessions: null,
    requests: null,
    connections: null,
  };
  /** When the running daemon last answered its health check, and since when it has not (undefined = it answers). */
  private lastAnswered = Date.now();
  private silentSince: number | undefined;
  private probing = false;
  /** Restarts for a config change under way: a session's event stream waits for the new daemon meanwhile. */
  private restarting = 0;
  /** Its target was removed from config.json: it stops and never starts again (a new entry gets a new keeper). */
  private retired = false;

  constructor(
    public target: ResolvedTarget,
    private readonly log: ConsolaInstance,
    private readonly token: string,
  ) {}

  /** Takes over a daemon found alive at startup (a previous supervisor started it, then died). */
  adopt(lock: LockInfo): void {
    this.lock = lock;
    this.state = "running";
    this.runningSince = Date.parse(lock.startedAt) || Date.now();
    this.lastActivity = Date.now();
    this.lastAnswered = Date.now();
    this.silentSince = undefined;
    this.log.info(`${this.target.name}: adopted running daemon pid ${lock.pid} on port ${lock.port}`);
    const skew = skewNote(`${this.target.name} daemon pid ${lock.pid}`, lock.version);
    if (skew) this.log.warn(skew);
  }

  /**
   * Resolves when the daemon is healthy; starts it if needed. A crash-looped target stays failed until restart.
   * `passive` is a session's event stream reconnecting, not a request: it may wait for a daemon the supervisor is
   * (re)starting anyway, but never starts one that was stopped — `msm stop` holds until an editor sends a request.
   * `timeoutMs` bounds only how long a running daemon that does not answer is waited for; a start gets the
   * target's own `startTimeoutMs`.
   */
  async ensure(timeoutMs = this.target.startTimeoutMs, options: { passive?: boolean } = {}): Promise<Endpoint> {
    if (this.stopping) await this.stopping;
    if (this.retired) throw this.removedError();
    // A proxy that saw the daemon die may ask before our watch tick did: record the death first.
    this.check();
    if (this.isFailed()) {
      throw new MsmError("DAEMON_FAILED", `${this.failedMessage()} Fix the cause, then run "msm restart ${this.target.name}".`);
    }
    if (options.passive && this.state === "stopped" && !this.restarting) {
      this.log.info(`${this.target.name}: not starting it for a session's event stream (${this.note ?? "stopped"}); the next request will`);
      throw new MsmError("NOT_RUNNING", `The "${this.target.name}" daemon is stopped (${this.note ?? "stopped"}); the next request starts it again.`);
    }
    this.lastActivity = Date.now();
    if (this.state === "running" && this.lock) {
      const lock = this.lock;
      if (await probe(this.target, lock)) return endpointOf(this.target, lock);
      // Alive but not answering: busy, or hung — the health watch decides which, and replaces a hung daemon.
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && this.lock === lock && ownerAlive(lock)) {
        await Bun.sleep(100);
        if (this.lock === lock && (await probe(this.target, lock))) return endpointOf(this.target, lock);
      }
      if (this.lock === lock && ownerAlive(lock)) {
        throw new MsmError(
          "DAEMON_UNREACHABLE",
          `The "${this.target.name}" daemon (pid ${lock.pid}) is running but not answering. Run "msm restart ${this.target.name}".`,
        );
      }
      // It died (or was replaced as hung) while we waited: record it, then start a new one below.
      this.check();
      if (this.isFailed()) throw new MsmError("DAEMON_FAILED", `${this.failedMessage()} Fix the cause, then run "msm restart ${this.target.name}".`);
      if (this.state === "running" && this.lock) return endpointOf(this.target, this.lock);
    }
    // In backoff a session is waiting: start now rather than make it wait out the delay.
    if (this.state === "backoff") this.restarts++;
    const lock = await this.start();
    return endpointOf(this.target, lock);
  }

  /** Failed for good (until `msm restart`); a start that failed on a reference is tried again by the next request. */
  private isFailed(): boolean {
    return this.state === "failed" && !this.unresolved;
  }

  /**
   * A reference could not be resolved (a variable, a keychain entry, an envFile): shown as failed with what is
   * missing, without backoff or crash counting — nothing msm retries can fix it — and the next request tries again.
   */
  private unresolvedStart(why: string): void {
    this.state = "failed";
    this.unresolved = true;
    this.note = why;
    this.lastLog = [];
    this.log.warn(`${this.target.name}: ${why}`);
  }

  private start(): Promise<LockInfo> {
    if (this.starting) return this.starting;
    if (this.retired) return Promise.reject(this.removedError());
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.state = "starting";
    this.note = null;
    this.unresolved = false;
    this.starting = launch(this.target, this.target.startTimeoutMs)
      .then(({ lock, exited, adopted }) => {
        this.lock = lock;
        this.state = "running";
        this.runningSince = adopted ? Date.parse(lock.startedAt) || Date.now() : Date.now();
        this.lastActivity = Date.now();
        this.lastAnswered = Date.now();
        this.silentSince = undefined;
        this.lastRequests = undefined;
        this.log.info(`${this.target.name}: ${adopted ? "adopted" : "started"} pid ${lock.pid} on port ${lock.port}`);
        // As the parent we hear of the exit at once; adopted daemons are caught by check()'s polling.
        void exited?.then((code) => this.exited(lock, code));
        return lock;
      })
      .catch((error: unknown) => {
        this.lock = undefined;
        if (error instanceof StartFailed && error.unresolved) this.unresolvedStart(error.why);
        else this.crashed(error instanceof StartFailed ? error.why : (error as Error).message);
        throw error;
      })
      .finally(() => {
        this.starting = undefined;
      });
    return this.starting;
  }

  /** The daemon named by `lock` is gone. Unasked → restart with backoff; during stop() → nothing to do. */
  private exited(lock: LockInfo, code: number | null | undefined, why?: string): void {
    if (this.lock?.pid !== lock.pid || this.stopping) return;
    this.lock = undefined;
    releaseIfOwned(paths.lock(this.target.name), lock.pid);
    // Whatever the daemon spawned is still in its group: end it, or it keeps the port and becomes an orphan.
    if (lock.group && !isAlive(lock.pid) && groupHasLiveMember(lock.pid)) signal(-lock.pid, "SIGKILL");
    const how = why ? ` (${why})` : code === undefined ? "" : code === null ? " (killed by a signal)" : ` (exit code ${code})`;
    note(this.target.name, `daemon pid ${lock.pid} exited${how}`);
    this.log.warn(`${this.target.name}: daemon pid ${lock.pid} exited${how}`);
    // It ran well and was killed or fell over later: unlucky, not broken. Only early deaths build up to `failed`.
    this.crashed(`exited${how}`, this.runningSince);
  }

  /** Counts an unasked exit (of a daemon up since `runningSince`) or a failed start; schedules the next attempt or gives up. */
  private crashed(why: string, runningSince?: number): void {
    const verdict = this.policy.crashed(runningSince);
    if (verdict.action === "fail") {
      this.state = "failed";
      const recent = tailLines(paths.log(this.target.name), 200);
      const own = recent.filter((line) => !MSM_NOTE.test(line));
      this.lastLog = (own.length ? own : recent).slice(-FAILED_LOG_LINES);
      this.note = `crashed ${verdict.crashes} times in a row; last: ${why}`;
      this.log.error(`${this.target.name}: ${this.note}; giving up until "msm restart ${this.target.name}"`);
      return;
    }
    const delay = verdict.delayMs;
    this.state = "backoff";
    this.note = `${why}; restarting in ${delay / 1000} s`;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.restarts++;
      this.start().catch(() => {});
    }, delay);
    this.backoffTimer.unref?.();
  }

  private failedMessage(): string {
    const lines = this.lastLog.length ? `\nLast log lines:\n  ${this.lastLog.join("\n  ")}\n` : " ";
    return `The "${this.target.name}" daemon ${this.note ?? "failed"}.${lines}`;
  }

  /**
   * Sessions attached right now: the daemon's own count for msm's daemons, open connections for external servers
   * (each session holds its event stream open). null when it is not running or cannot be told.
   */
  async attached(): Promise<number | null> {
    if (!(await this.refreshStats())) return null;
    return this.stats.sessions ?? this.stats.connections;
  }

  /**
   * Stops the daemon (SIGTERM to its group, SIGKILL after the grace period) and keeps it stopped until ensured.
   * Says what happened: "stopped", "not running" (there was nothing to stop), or the pid of a daemon that is still
   * running after all that (its lock is kept: it is not stopped, whatever was asked).
   */
  async stop(reason = "stopped by msm stop"): Promise<"stopped" | "not running" | { survived: number }> {
    if (this.stopping) return await this.stopping;
    if (this.starting) await this.starting.catch(() => {});
    // After the start settled: a failed start schedules a retry, which a stop must cancel.
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const lock = this.lock ?? readLock(this.target.name);
    this.stopping = (async () => {
      if (lock) {
        note(this.target.name, `stopping pid ${lock.pid}: ${reason}`);
        const how = await terminate(lock.pid, { group: lock.group ?? true });
        if (how === "survived") {
          this.log.error(`${this.target.name}: pid ${lock.pid} is still running after SIGTERM and SIGKILL (${reason})`);
          this.note = `pid ${lock.pid} did not exit when stopped`;
          return { survived: lock.pid };
        }
        releaseIfOwned(paths.lock(this.target.name), lock.pid);
        this.log.info(`${this.target.name}: pid ${lock.pid} ${how === "killed" ? "killed after the grace period" : "stopped"} (${reason})`);
      }
      this.lock = undefined;
      this.state = "stopped";
      this.policy.reset();
      this.note = reason;
      this.lastLog = [];
      return lock ? "stopped" : "not running";
    })();
    try {
      return await this.stopping;
    } finally {
      this.stopping = undefined;
    }
  }

  /** Stop, forget any crash loop, start again — with `target` as the config says now (args, env, idle stops…). */
  async restart(target = this.target): Promise<Endpoint> {
    const stopped = await this.stop("restarting");
    if (typeof stopped === "object") {
      throw new MsmError(
        "DAEMON_FAILED",
        `The "${this.target.name}" daemon (pid ${stopped.survived}) did not exit when stopped, so it was not restarted. End that process (${process.platform === "win32" ? `taskkill /F /T /PID ${stopped.survived}` : `kill -9 ${stopped.survived}`}), then run "msm restart ${this.target.name}" again.`,
      );
    }
    this.state = "stopped";
    this.target = target;
    return this.ensure();
  }

  /** Its target is gone from config.json: stopped, and never started again by anything still holding this keeper. */
  retire(): Promise<"stopped" | "not running" | { survived: number }> {
    this.retired = true;
    return this.stop("removed from config.json");
  }

  private removedError(): MsmError {
    return new MsmError("UNKNOWN_TARGET", `The "${this.target.name}" target was removed from config.json; its daemon is stopped.`);
  }

  /**
   * Its entry in config.json changed (the supervisor's config watch). `restart`: the keys that need the daemon
   * restarted; empty, only `live` keys changed, which the supervisor reads itself (idle stop, start wait, health)
   * or a running host is told. Says what it did, for the log. A daemon that is not running just starts with the new
   * entry next time, and a `failed` one is given another chance: the edit may be the fix.
   */
  async reconfigure(target: ResolvedTarget, restart: readonly string[], live: readonly string[]): Promise<string> {
    const previous = this.target;
    this.target = target;
    if (this.state === "failed") {
      this.state = "stopped";
      this.policy.reset();
      this.note = "its entry in config.json changed; the next session starts it";
      this.lastLog = [];
      return "no longer failed: the next session starts it";
    }
    if (this.state === "stopped") return "applies when it starts";
    if (this.state === "backoff") return "its next start uses it";
    if (!restart.length) {
      const lock = this.lock;
      const hostKeys = live.filter((key) => (HOST_LIVE_KEYS as readonly string[]).includes(key));
      if (!hostKeys.length || target.kind !== "hosted" || previous.kind !== "hosted" || !lock) return "applied without a restart";
      const settings = { childIdleMs: target.childIdleMs, startTimeoutSeconds: target.startTimeoutSeconds, instances: target.instances ?? 1 };
      if (await pushHostSettings({ port: lock.port, token: this.token, settings })) return "applied without a restart (the host was told)";
      // A host that does not take settings (an older msm): a restart applies them.
    }
    const endpoint = await this.restartForConfig();
    return endpoint ? `restarted: pid ${endpoint.pid}` : "stopped";
  }

  /**
   * Stop and start again with the entry as it is now. Overlapping edits are fine: a second restart waits for the
   * first one's start, then stops that daemon, and each start takes `this.target` as it is at that moment.
   */
  private async restartForConfig(): Promise<Endpoint | undefined> {
    this.restarting++;
    try {
      const stopped = await this.stop("its entry in config.json changed");
      if (typeof stopped === "object") {
        throw new MsmError("DAEMON_FAILED", `pid ${stopped.survived} did not exit when stopped, so it runs its old config; end it by hand`);
      }
      return await this.ensure();
    } finally {
      this.restarting--;
    }
  }

  /** `msm restart NAME --project DIR` for a stdio host: the host restarts that project's child, sessions kept. */
  async restartChild(project: string): Promise<Endpoint & { restarted: string[] }> {
    if (this.target.kind !== "hosted") {
      throw new MsmError("USAGE", `--project applies to stdio servers msm hosts; "${this.target.name}" is not one. Run "msm restart ${this.target.name}".`);
    }
    const endpoint = await this.ensure();
    const lock = this.lock!;
    const timeoutMs = this.target.startTimeoutMs + this.target.startTimeoutSeconds * 1000;
    const { restarted } = await restartHostChild({ name: this.target.name, port: lock.port, token: this.token, project, timeoutMs });
    return { ...endpoint, restarted };
  }

  /** Called every watch tick: catches deaths of adopted daemons, which are not our children. */
  check(): void {
    if (this.state !== "running" || !this.lock || this.stopping) return;
    if (!ownerAlive(this.lock)) this.exited(this.lock, undefined);
  }

  /**
   * Called every health tick: a running daemon must answer its health check. One that stays silent for HANG_MS
   * (frozen, deadlocked, stopped with SIGSTOP) is killed with its group and restarted: its sessions' calls in flight
   * see their connections die and get an error instead of waiting forever. A long tool call alone never counts —
   * the health check is answered beside it.
   */
  async checkHealth(): Promise<void> {
    if (this.state !== "running" || !this.lock || this.stopping || this.probing) return;
    const lock = this.lock;
    this.probing = true;
    let answered: boolean;
    try {
      answered = await answers(this.target, lock, HEALTH_PROBE_TIMEOUT_MS);
    } finally {
      this.probing = false;
    }
    if (this.lock !== lock || this.stopping) return;
    const now = Date.now();
    if (answered) {
      if (this.silentSince !== undefined) this.log.info(`${this.target.name}: pid ${lock.pid} answers its health check again`);
      this.lastAnswered = now;
      this.silentSince = undefined;
      return;
    }
    if (!ownerAlive(lock)) return this.check();
    if (this.silentSince === undefined) {
      this.silentSince = this.lastAnswered;
      this.log.warn(`${this.target.name}: pid ${lock.pid} is not answering its health check`);
    }
    if (now - this.lastAnswered < HANG_MS) return;
    const silent = Math.round((now - this.lastAnswered) / 1000);
    const why = `not answering its health check for ${silent} s; killed`;
    note(this.target.name, `daemon pid ${lock.pid} ${why}`);
    this.log.warn(`${this.target.name}: daemon pid ${lock.pid} ${why}`);
    // SIGKILL works on a stopped process too; the group takes along whatever the daemon spawned.
    const group = (lock.group ?? true) && leadsGroup(lock.pid);
    signal(group ? -lock.pid : lock.pid, "SIGKILL");
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && isAlive(lock.pid)) await Bun.sleep(20);
    this.exited(lock, null, why);
  }

  /** Called every activity tick: refreshes counters and stops a daemon nobody has used for its `daemonIdleMs`. */
  async checkActivity(): Promise<void> {
    if (!(await this.refreshStats())) return;
    const connections = this.stats.connections;
    const idleMs = this.target.daemonIdleMs;
    // Connections unknown (no way to count them on this OS) an external server's use cannot be seen: never stop it as idle.
    if (idleMs <= 0 || (connections === null && this.stats.requests === null)) return;
    if (Date.now() - this.lastActivity >= idleMs) {
      await this.stop(`idle for ${formatMinutes(idleMs / 60_000)}`);
    }
  }

  /** Sessions, requests and open connections of a running daemon; false when it is not running. */
  async refreshStats(): Promise<boolean> {
    if (this.state !== "running" || !this.lock) return false;
    const lock = this.lock;
    const stats = this.target.kind !== "external" ? await fetchStats(lock.port, this.token) : undefined;
    // Proxies on the line wire are connected to the daemon's socket, not its port: the daemon counts those itself.
    const port = connectionsTo(lock.port);
    const connections = port === undefined ? null : port + (stats?.wireConnections ?? 0);
    this.stats = { sessions: stats?.sessions ?? null, requests: stats?.requests ?? null, connections, children: stats?.children };
    const requestsMoved = stats !== undefined && this.lastRequests !== undefined && stats.requests !== this.lastRequests;
    if (stats) this.lastRequests = stats.requests;
    if ((connections ?? 0) > 0 || requestsMoved) this.lastActivity = Date.now();
    return true;
  }

  status(): TargetStatus {
    const lock = this.state === "running" ? this.lock : undefined;
    const silent = lock && this.silentSince !== undefined ? Math.round((Date.now() - this.silentSince) / 1000) : undefined;
    return targetRow({
      name: this.target.name,
      target: this.target,
      state: silent !== undefined ? "unresponsive" : this.state,
      lock,
      since: this.runningSince,
      restarts: this.restarts,
      stats: this.stats,
      rssBytes: lock ? daemonRss(lock) : null,
      note: silent !== undefined ? `not answering its health check for ${silent} s (replaced after ${HANG_MS / 1000} s)` : this.note,
      lastLog: this.state === "failed" ? this.lastLog : [],
      cache: cacheSummary(this.target.name),
    });
  }

  /** Supervisor shutdown: no timers left behind. */
  dispose(): void {
    clearTimeout(this.backoffTimer);
  }
}
