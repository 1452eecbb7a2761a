import type { ConsolaInstance } from "consola";
import type { ResolvedTarget } from "../lib/config.ts";
import { endpointOf, type Endpoint } from "../lib/ensure.ts";
import { MsmError } from "../lib/errors.ts";
import { ownerAlive, readLock, releaseIfOwned, type LockInfo } from "../lib/lock.ts";
import { tailLines } from "../lib/log.ts";
import { paths } from "../lib/paths.ts";
import { probe } from "../lib/probe.ts";
import { groupHasLiveMember, groupRssBytes, isAlive, rssBytes, signal, terminate } from "../lib/proc.ts";
import { connectionsTo, fetchStats } from "./activity.ts";
import { DAEMON_START_TIMEOUT_MS, launch, note, StartFailed } from "./launch.ts";

/**
 * Waits before restart number 1, 2, … after unasked exits in a row; one more exit than this list is a crash loop.
 * MSM_BACKOFF_MS (comma-separated) replaces it, so a test can drive a crash loop without waiting half a minute.
 */
export const BACKOFF_MS = backoffFromEnv(process.env.MSM_BACKOFF_MS) ?? [1_000, 2_000, 4_000, 8_000, 16_000];

function backoffFromEnv(text: string | undefined): number[] | undefined {
  const steps = text?.split(",").map(Number);
  return steps?.length && steps.every((n) => Number.isFinite(n) && n >= 0) ? steps : undefined;
}
/** A daemon that has run this long is stable again: its next exit starts the backoff from the beginning. */
export const STABLE_MS = 5 * 60_000;
/** Log lines kept with a `failed` state, so `msm status` shows why without opening the log. */
export const FAILED_LOG_LINES = 6;
/** msm's own notes in a daemon log ("starting …", "exited …"): left out of the failure excerpt, the daemon's words matter. */
const MSM_NOTE = / \[msm\] /;

export type State = "stopped" | "starting" | "running" | "backoff" | "failed";

/** One row of `GET /status`. */
export interface TargetStatus {
  name: string;
  kind: ResolvedTarget["kind"];
  state: State;
  pid: number | null;
  port: number | null;
  transport: string;
  url: string | null;
  uptimeSeconds: number | null;
  restarts: number;
  sessions: number | null;
  connections: number | null;
  requests: number | null;
  rssBytes: number | null;
  idleMinutes: number;
  /** Why it is failed or stopped (crash loop, idle, stopped by a command), with the last log lines when failed. */
  note: string | null;
  lastLog: string[];
}

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
  /** Unasked exits in a row, for the backoff. */
  private crashes = 0;
  private starting: Promise<LockInfo> | undefined;
  private backoffTimer: Timer | undefined;
  private stopping: Promise<void> | undefined;
  private note: string | null = null;
  private lastLog: string[] = [];
  private lastActivity = Date.now();
  private lastRequests: number | undefined;
  private stats: { sessions: number | null; requests: number | null; connections: number | null } = { sessions: null, requests: null, connections: null };

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
    this.log.info(`${this.target.name}: adopted running daemon pid ${lock.pid} on port ${lock.port}`);
  }

  /** Resolves when the daemon is healthy; starts it if needed. A crash-looped target stays failed until restart. */
  async ensure(timeoutMs = DAEMON_START_TIMEOUT_MS): Promise<Endpoint> {
    if (this.stopping) await this.stopping;
    this.lastActivity = Date.now();
    // A proxy that saw the daemon die may ask before our watch tick did: record the death first (it counts).
    this.check();
    if (this.isFailed()) {
      throw new MsmError("DAEMON_FAILED", `${this.failedMessage()} Fix the cause, then run "msm restart ${this.target.name}".`);
    }
    if (this.state === "running" && this.lock) {
      if (await probe(this.target, this.lock)) return endpointOf(this.target, this.lock);
      // Alive but not answering: it may be busy starting up or under load; give it the start timeout.
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && this.lock && ownerAlive(this.lock)) {
        await Bun.sleep(100);
        if (this.lock && (await probe(this.target, this.lock))) return endpointOf(this.target, this.lock);
      }
      if (this.lock && ownerAlive(this.lock)) {
        throw new MsmError("DAEMON_UNREACHABLE", `The "${this.target.name}" daemon (pid ${this.lock.pid}) is running but not answering. Run "msm restart ${this.target.name}".`);
      }
      // It died while we waited: count it, then start a new one below.
      this.check();
      if (this.isFailed()) throw new MsmError("DAEMON_FAILED", `${this.failedMessage()} Fix the cause, then run "msm restart ${this.target.name}".`);
    }
    // In backoff a session is waiting: start now rather than make it wait out the delay.
    if (this.state === "backoff") this.restarts++;
    const lock = await this.start(timeoutMs);
    return endpointOf(this.target, lock);
  }

  private isFailed(): boolean {
    return this.state === "failed";
  }

  private start(timeoutMs = DAEMON_START_TIMEOUT_MS): Promise<LockInfo> {
    if (this.starting) return this.starting;
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.state = "starting";
    this.note = null;
    this.starting = launch(this.target, timeoutMs)
      .then(({ lock, exited, adopted }) => {
        this.lock = lock;
        this.state = "running";
        this.runningSince = adopted ? Date.parse(lock.startedAt) || Date.now() : Date.now();
        this.lastActivity = Date.now();
        this.lastRequests = undefined;
        this.log.info(`${this.target.name}: ${adopted ? "adopted" : "started"} pid ${lock.pid} on port ${lock.port}`);
        // As the parent we hear of the exit at once; adopted daemons are caught by check()'s polling.
        void exited?.then((code) => this.exited(lock, code));
        return lock;
      })
      .catch((error: unknown) => {
        this.lock = undefined;
        this.crashed(error instanceof StartFailed ? error.why : (error as Error).message);
        throw error;
      })
      .finally(() => {
        this.starting = undefined;
      });
    return this.starting;
  }

  /** The daemon named by `lock` is gone. Unasked → restart with backoff; during stop() → nothing to do. */
  private exited(lock: LockInfo, code: number | null | undefined): void {
    if (this.lock?.pid !== lock.pid || this.stopping) return;
    this.lock = undefined;
    releaseIfOwned(paths.lock(this.target.name), lock.pid);
    // Whatever the daemon spawned is still in its group: end it, or it keeps the port and becomes an orphan.
    if (lock.group && !isAlive(lock.pid) && groupHasLiveMember(lock.pid)) signal(-lock.pid, "SIGKILL");
    const how = code === undefined ? "" : code === null ? " (killed by a signal)" : ` (exit code ${code})`;
    note(this.target.name, `daemon pid ${lock.pid} exited${how}`);
    this.log.warn(`${this.target.name}: daemon pid ${lock.pid} exited${how}`);
    if (Date.now() - this.runningSince >= STABLE_MS) this.crashes = 0;
    this.crashed(`exited${how}`);
  }

  /** Counts an unasked exit or a failed start, and schedules the next attempt or gives up. */
  private crashed(why: string): void {
    this.crashes++;
    if (this.crashes > BACKOFF_MS.length) {
      this.state = "failed";
      const recent = tailLines(paths.log(this.target.name), 200);
      const own = recent.filter((line) => !MSM_NOTE.test(line));
      this.lastLog = (own.length ? own : recent).slice(-FAILED_LOG_LINES);
      this.note = `crashed ${this.crashes} times in a row; last: ${why}`;
      this.log.error(`${this.target.name}: ${this.note}; giving up until "msm restart ${this.target.name}"`);
      return;
    }
    const delay = BACKOFF_MS[this.crashes - 1]!;
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

  /** Stops the daemon (SIGTERM to its group, SIGKILL after the grace period) and keeps it stopped until ensured. */
  async stop(reason = "stopped by msm stop"): Promise<boolean> {
    if (this.stopping) {
      await this.stopping;
      return true;
    }
    if (this.starting) await this.starting.catch(() => {});
    // After the start settled: a failed start schedules a retry, which a stop must cancel.
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const lock = this.lock ?? readLock(this.target.name);
    this.stopping = (async () => {
      if (lock) {
        note(this.target.name, `stopping pid ${lock.pid}: ${reason}`);
        const how = await terminate(lock.pid, { group: lock.group ?? true });
        releaseIfOwned(paths.lock(this.target.name), lock.pid);
        this.log.info(`${this.target.name}: pid ${lock.pid} ${how === "killed" ? "killed after the grace period" : "stopped"} (${reason})`);
      }
      this.lock = undefined;
      this.state = "stopped";
      this.crashes = 0;
      this.note = reason;
      this.lastLog = [];
    })();
    try {
      await this.stopping;
    } finally {
      this.stopping = undefined;
    }
    return lock !== undefined;
  }

  /** Stop, forget any crash loop, start again. */
  async restart(): Promise<Endpoint> {
    await this.stop("restarting");
    this.state = "stopped";
    return this.ensure();
  }

  /** Called every watch tick: catches deaths of adopted daemons, which are not our children. */
  check(): void {
    if (this.state !== "running" || !this.lock || this.stopping) return;
    if (!ownerAlive(this.lock)) this.exited(this.lock, undefined);
  }

  /** Called every activity tick: refreshes counters and stops a daemon nobody has used for `idleMinutes`. */
  async checkActivity(): Promise<void> {
    if (!(await this.refreshStats())) return;
    const connections = this.stats.connections;
    const idleMs = this.target.idleMinutes * 60_000;
    // Without /proc (connections unknown) an external server's use cannot be seen: never stop it as idle.
    if (idleMs <= 0 || (connections === null && this.stats.requests === null)) return;
    if (Date.now() - this.lastActivity >= idleMs) {
      await this.stop(`idle for ${formatMinutes(this.target.idleMinutes)}`);
    }
  }

  /** Sessions, requests and open connections of a running daemon; false when it is not running. */
  async refreshStats(): Promise<boolean> {
    if (this.state !== "running" || !this.lock) return false;
    const lock = this.lock;
    const connections = connectionsTo(lock.port) ?? null;
    const stats = this.target.kind !== "external" ? await fetchStats(lock.port, this.token) : undefined;
    this.stats = { sessions: stats?.sessions ?? null, requests: stats?.requests ?? null, connections };
    const requestsMoved = stats !== undefined && this.lastRequests !== undefined && stats.requests !== this.lastRequests;
    if (stats) this.lastRequests = stats.requests;
    if ((connections ?? 0) > 0 || requestsMoved) this.lastActivity = Date.now();
    return true;
  }

  status(): TargetStatus {
    const lock = this.state === "running" ? this.lock : undefined;
    return {
      name: this.target.name,
      kind: this.target.kind,
      state: this.state,
      pid: lock?.pid ?? null,
      port: lock?.port ?? null,
      transport: lock?.transport ?? this.target.transport,
      url: lock ? endpointOf(this.target, lock).url : null,
      uptimeSeconds: lock ? Math.max(0, Math.round((Date.now() - this.runningSince) / 1000)) : null,
      restarts: this.restarts,
      sessions: lock ? this.stats.sessions : null,
      connections: lock ? this.stats.connections : null,
      requests: lock ? this.stats.requests : null,
      rssBytes: lock ? ((lock.group ? groupRssBytes(lock.pid) : rssBytes(lock.pid)) ?? null) : null,
      idleMinutes: this.target.idleMinutes,
      note: this.note,
      lastLog: this.state === "failed" ? this.lastLog : [],
    };
  }

  /** Supervisor shutdown: no timers left behind. */
  dispose(): void {
    clearTimeout(this.backoffTimer);
  }
}

export function formatMinutes(minutes: number): string {
  return minutes >= 1 ? `${minutes} min` : `${Math.round(minutes * 60)} s`;
}
