import { existsSync } from "node:fs";
import type { ConsolaInstance } from "consola";
import { loadConfig, resolveTarget, type ResolvedTarget } from "../lib/config.ts";
import type { ConfigState, Endpoint, StopResult, SupervisorStatus } from "../lib/contracts/supervisor-api.ts";
import { dropEntries, NOT_IN_KEY } from "../lib/discovery-cache.ts";
import { isMsmError, MsmError } from "../lib/errors.ts";
import { reapChildRecord } from "../lib/child-record.ts";
import { clearIfStale, listLocks, parseLockFile, readLock } from "../lib/lock.ts";
import { rotateInPlace, tailLines } from "../lib/log.ts";
import { SUPERVISOR } from "../lib/manager.ts";
import { msmHome, paths } from "../lib/paths.ts";
import { groupHasLiveMember, isAlive, signal } from "../lib/proc.ts";
import { VERSION } from "../lib/version.ts";
import { configKeys, settle, type Change, type InForce, type Outcome, type Reading } from "./config-state.ts";
import { ConfigWatch } from "./config-watch.ts";
import { Keeper } from "./keeper.ts";

/** Owns every daemon of one MSM_HOME. The only code that starts daemons. */
export class Supervisor {
  private readonly keepers = new Map<string, Keeper>();
  private readonly startedAt = new Date();
  private leaving = false;
  port = 0;
  onExit: (reason: string) => void = () => process.exit(0);
  /** The config the supervisor acts on: the file's, or its last good one while the file has a problem. */
  private inForce: InForce;
  /** The last reading of config.json (for the messages about a target it does not serve). */
  private latest: Reading;
  /** What status reports about config.json. */
  private config: ConfigState;
  /** Targets being stopped because config.json no longer has them: a session asking for the name again waits. */
  private readonly removing = new Map<string, Promise<void>>();
  private readonly configWatch: ConfigWatch;

  constructor(
    private readonly log: ConsolaInstance,
    private readonly token: string,
  ) {
    this.configWatch = new ConfigWatch(paths.config(), () => this.reload(), log);
    // At the start there is no last good config: an unsafe file is refused outright (thrown), a broken one applies
    // as far as it is valid — memory always.
    this.configWatch.reading();
    this.latest = { config: loadConfig() };
    const outcome = settle(undefined, this.latest);
    this.inForce = outcome.inForce;
    this.config = this.stateOf(outcome);
    for (const problem of outcome.problems) this.log.warn(`config.json: ${problem}`);
  }

  /** From now on edits of config.json apply as they are saved (see config-watch.ts); daemon.ts calls it once. */
  watchConfig(): void {
    this.configWatch.start();
  }

  /** The target as the config in force has it. A name it lacks makes the supervisor look at the file first. */
  private resolve(name: string): ResolvedTarget {
    let target = this.inForce.targets.get(name);
    if (!target) {
      this.configWatch.settleNow();
      target = this.inForce.targets.get(name);
    }
    if (!target) throw this.notServed(name);
    return target;
  }

  /** Why `name` is not served: the file's own words (unknown, or its entry broken), or that the file is rejected. */
  private notServed(name: string): MsmError {
    if ("refused" in this.latest) {
      return new MsmError("CONFIG_UNSAFE", `Target "${name}" cannot start: ${this.latest.refused} The last good config stays in force; it has no "${name}".`);
    }
    const config = this.latest.config;
    if (config.error !== undefined && !(name in config.broken) && name in config.targets) {
      return new MsmError(
        "CONFIG_INVALID",
        `Target "${name}" cannot start yet: ${config.error} Until it is fixed the last good config stays in force, and it has no "${name}".`,
      );
    }
    try {
      resolveTarget(config, name);
    } catch (error) {
      if (isMsmError(error)) return error;
    }
    return new MsmError("UNKNOWN_TARGET", `Unknown target "${name}". Add it under "targets" in ${paths.config()}.`);
  }

  private keeper(name: string): Keeper {
    const target = this.resolve(name);
    let keeper = this.keepers.get(name);
    if (!keeper) {
      keeper = new Keeper(target, this.log, this.token);
      this.keepers.set(name, keeper);
    }
    return keeper;
  }

  /** config.json changed (the watch saw it settle): read it, and apply what changed. */
  private reload(): void {
    this.configWatch.reading();
    let reading: Reading;
    try {
      reading = { config: loadConfig() };
    } catch (error) {
      if (!isMsmError(error)) throw error;
      reading = { refused: error.message };
    }
    this.apply(reading);
  }

  /** Applies one reading of config.json: the problems reported, targets added, removed, changed (see config-state.ts). */
  private apply(reading: Reading): void {
    const outcome = settle(this.inForce, reading, this.port);
    const before = this.config;
    this.latest = reading;
    this.inForce = outcome.inForce;
    // A rejected edit changed nothing: the config in force is as old as it was.
    this.config = this.stateOf(outcome, outcome.keptAll ? before.appliedAt : undefined);
    const said = new Set(before.problems);
    for (const problem of outcome.problems) {
      if (!said.has(problem)) this.log.warn(`config.json: ${problem}${outcome.keptAll ? " The last good config stays in force." : ""}`);
    }
    if (before.problems.length && !outcome.problems.length) this.log.info("config.json is valid again");
    for (const name of outcome.kept)
      if (!before.kept.includes(name)) this.log.warn(`${name}: its entry in config.json is broken; its last good entry stays in force`);
    for (const note of outcome.needsRestart) if (!before.needsRestart.includes(note)) this.log.warn(note);
    for (const change of outcome.changes) this.applyChange(change);
  }

  private applyChange(change: Change): void {
    const { name } = change;
    if (change.kind === "added") {
      this.log.info(`${name}: added to config.json; it starts with its first session`);
      return;
    }
    if (change.kind === "removed") {
      this.log.info(`${name}: removed from config.json; stopping it`);
      void this.remove(name, change.previous);
      return;
    }
    // Another entry is another cache key: the old entry's answers go (keys outside the key, lazy and rules, keep them).
    if ([...change.restart, ...change.live].some((key) => !NOT_IN_KEY.includes(key))) dropEntries(name);
    const keeper = this.keepers.get(name);
    const what = configKeys([...change.restart, ...change.live]);
    if (!keeper) {
      this.log.info(`${name}: ${what} changed in config.json; applies when it starts`);
      return;
    }
    void keeper
      .reconfigure(change.target, change.restart, change.live)
      .then((outcome) => this.log.info(`${name}: ${what} changed in config.json; ${outcome}`))
      .catch((error) => this.log.warn(`${name}: ${what} changed in config.json, but it did not restart: ${(error as Error).message}`));
  }

  /** A target gone from config.json: its daemon stopped (a host takes its children along), its cache dropped. */
  private remove(name: string, previous: ResolvedTarget): Promise<void> {
    // No keeper yet (nothing asked for it since the start): one for the stop, which finds any daemon by its lock.
    const keeper = this.keepers.get(name) ?? new Keeper(previous, this.log, this.token);
    this.keepers.set(name, keeper);
    const done = (async () => {
      dropEntries(name);
      const stopped = await keeper.retire();
      if (typeof stopped === "object") this.log.error(`${name}: pid ${stopped.survived} did not exit when stopped; end it by hand`);
      // A host that had to be killed leaves its children in their own process groups, and no later host of this
      // name will reap them: do it here.
      if (keeper.target.kind === "hosted") {
        const reaped = reapChildRecord(name);
        if (reaped.length) this.log.warn(`${name}: killed ${reaped.length} child process group(s) its host left behind: ${reaped.join(", ")}`);
      }
    })()
      .catch((error: unknown) => this.log.warn(`${name}: stopping it failed: ${(error as Error).message}`))
      .finally(() => {
        keeper.dispose();
        if (this.removing.get(name) === done) this.removing.delete(name);
        // Added back meanwhile: the next request makes a keeper with the new entry.
        if (this.keepers.get(name) === keeper) this.keepers.delete(name);
      });
    this.removing.set(name, done);
    return done;
  }

  private stateOf(outcome: Outcome, appliedAt = new Date().toISOString()): ConfigState {
    return {
      file: paths.config(),
      appliedAt,
      problems: outcome.problems,
      broken: outcome.broken,
      keptAll: outcome.keptAll,
      kept: outcome.kept,
      needsRestart: outcome.needsRestart,
    };
  }

  /**
   * Startup: every configured target gets a keeper; live daemons are adopted from their locks, stale locks are
   * cleared, and processes left in a dead daemon's group (what an external server spawned) are killed.
   */
  adoptAll(): void {
    for (const name of this.inForce.targets.keys()) {
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
  async ensure(name: string, timeoutMs?: number, options: { passive?: boolean } = {}): Promise<Endpoint> {
    // A session's proxy read config.json a moment ago: start what it read, not what the watch has yet to apply.
    this.configWatch.settleNow();
    await this.removing.get(name);
    return this.keeper(name).ensure(timeoutMs, options);
  }

  /** The target as the config in force has it: a session's proxy asks when config.json itself is broken. */
  target(name: string): ResolvedTarget {
    return this.resolve(name);
  }

  /** Stops one daemon; says how many sessions were attached (their next request starts it again). */
  async stop(name: string): Promise<StopResult> {
    const keeper = this.keeper(name);
    const sessions = await keeper.attached();
    return stopResult(name, await keeper.stop(), sessions);
  }

  /** Restart with the config in force, an edit not yet applied included: changed args, env or idle stops apply now. */
  async restart(name: string): Promise<Endpoint> {
    this.configWatch.settleNow();
    await this.removing.get(name);
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
    if (name !== SUPERVISOR && !this.keepers.has(name)) this.resolve(name);
    return tailLines(paths.log(name), lines);
  }

  async status(): Promise<SupervisorStatus> {
    // An edit saved a moment ago shows at once, not after the watch's quiet time.
    this.configWatch.settleNow();
    for (const name of this.inForce.targets.keys()) this.keeper(name);
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
      config: this.config,
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
    // Where fs.watch misses events (network filesystems, some container mounts), this is how an edit is seen.
    this.configWatch.poll();
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
    this.configWatch.stop();
    for (const keeper of this.keepers.values()) keeper.dispose();
    this.onExit(reason);
  }
}

function stopResult(name: string, outcome: Awaited<ReturnType<Keeper["stop"]>>, sessions: number | null): StopResult {
  if (typeof outcome === "object") return { name, stopped: false, sessions, survived: outcome.survived };
  return { name, stopped: outcome === "stopped", sessions };
}
