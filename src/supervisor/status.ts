/**
 * What `msm status` reports, built in one place: targetRow() turns what is known about a target into its row (the
 * keeper calls it for `GET /status`; the no-supervisor fallback below for lock files), and statusReport() gathers
 * the whole report, from the supervisor when one answers, else from the lock files. The command only renders it.
 */
import { configProblems, loadConfig, resolveTarget, targetNames, type Config, type ResolvedTarget } from "../lib/config.ts";
import type { LockFile } from "../lib/contracts/lock-file.ts";
import type { ChildStatus } from "../lib/contracts/stats.ts";
import { fetchStats } from "../lib/contracts/stats.ts";
import { failedChildrenNote } from "../lib/host-status.ts";
import { callSupervisor, type ConfigState, type SupervisorInfo, type TargetStatus } from "../lib/contracts/supervisor-api.ts";
import { isMsmError } from "../lib/errors.ts";
import { listLocks } from "../lib/lock.ts";
import { findSupervisor, SUPERVISOR } from "../lib/manager.ts";
import { msmHome } from "../lib/paths.ts";
import { probe } from "../lib/probe.ts";
import { groupRssBytes, rssBytes } from "../lib/proc.ts";
import { loadToken } from "../lib/token.ts";
import { cacheSummary } from "../lib/discovery-cache.ts";

/** What is known about one target at one moment. */
export interface RowFacts {
  name: string;
  /** As config.json describes it; undefined when it is not there (or broken). */
  target?: ResolvedTarget;
  state: TargetStatus["state"];
  /** The lock of its running daemon; undefined when none runs. */
  lock?: LockFile;
  /** When the running daemon came up (ms since the epoch). */
  since?: number;
  restarts?: number;
  stats?: { sessions: number | null; requests: number | null; connections: number | null; children?: ChildStatus[] };
  rssBytes?: number | null;
  note?: string | null;
  lastLog?: string[];
  /** The discovery cache's summary (lib/discovery-cache.ts cacheSummary). */
  cache?: { entries: number; updatedAt?: number };
}

/** One row of the report. Pure: the same facts and clock give the same row. */
export function targetRow(facts: RowFacts, now = Date.now()): TargetStatus {
  const { lock, target } = facts;
  const since = facts.since;
  const children = target?.kind === "hosted" ? (lock ? (facts.stats?.children ?? []) : []) : undefined;
  // A running host whose child failed: the host answers, but that project's sessions get errors.
  const childrenFailed = facts.state === "running" ? failedChildrenNote(children) : undefined;
  // Not running, but its sessions are answered from the cache (until their first real call starts it).
  const lazy = target && "lazy" in target ? target.lazy !== false : true;
  const cached = facts.state === "stopped" && (facts.cache?.entries ?? 0) > 0 && target?.kind !== "builtin" && lazy;
  return {
    name: facts.name,
    kind: target?.kind ?? "external",
    state: childrenFailed ? "degraded" : cached ? "cached" : facts.state,
    pid: lock?.pid ?? null,
    port: lock?.port ?? null,
    transport: lock?.transport ?? target?.transport ?? "-",
    url: lock ? `http://127.0.0.1:${lock.port}${lock.path ?? target?.path ?? ""}` : null,
    version: lock?.version ?? null,
    uptimeSeconds: lock && since !== undefined && Number.isFinite(since) ? Math.max(0, Math.round((now - since) / 1000)) : null,
    restarts: facts.restarts ?? 0,
    sessions: lock ? (facts.stats?.sessions ?? null) : null,
    connections: lock ? (facts.stats?.connections ?? null) : null,
    requests: lock ? (facts.stats?.requests ?? null) : null,
    rssBytes: lock ? (facts.rssBytes ?? null) : null,
    idleMinutes: (target?.daemonIdleMs ?? 0) / 60_000,
    ...(target?.kind === "hosted" ? { childIdleMinutes: target.childIdleMs / 60_000 } : {}),
    note: [childrenFailed, facts.note].filter(Boolean).join("; ") || null,
    lastLog: facts.lastLog ?? [],
    ...(children ? { children } : {}),
    ...(facts.cache
      ? {
          cache: {
            entries: facts.cache.entries,
            ageSeconds: facts.cache.updatedAt === undefined ? null : Math.max(0, Math.round((now - facts.cache.updatedAt) / 1000)),
          },
        }
      : {}),
  };
}

/** Resident memory of a daemon: its whole process group when it leads one (what an external server spawned counts). */
export function daemonRss(lock: LockFile): number | null {
  return (lock.group ? groupRssBytes(lock.pid) : rssBytes(lock.pid)) ?? null;
}

/** What `msm status --json` prints (before the command adds logins): the supervisor's view, or the lock files'. */
export interface StatusReport {
  home: string;
  supervisor: SupervisorInfo | null;
  targets: TargetStatus[];
  /** What is wrong in config.json, one message per problem, each naming its key (status exits 1 when any). */
  problems: string[];
  /**
   * The running supervisor's view of config.json: since when its config is in force, whether it keeps the last good
   * one because the file has a problem, what needs `msm restart supervisor`. Absent without a supervisor (or from an
   * older one): then the problems are the file's as this command read it.
   */
  config?: ConfigState;
}

/** The report: asked of the supervisor when one answers, else read from the lock files; config.json's problems added. */
export async function statusReport(config: Config = loadConfig()): Promise<StatusReport> {
  const manager = await findSupervisor();
  if (manager) {
    try {
      const answer = await callSupervisor(manager, "status", {}, 5_000);
      return withConfig({ home: msmHome(), ...answer, problems: [] }, answer.config ?? config);
    } catch (error) {
      if (!isMsmError(error)) throw error;
    }
  }
  return withConfig({ home: msmHome(), supervisor: null, targets: await fromLockFiles(config), problems: [] }, config);
}

/**
 * config.json's problems go into the report: a broken entry is a row of its own (state `invalid`, the message as
 * its note) unless the supervisor still serves its last good entry, whose row then carries the message. `config` is
 * the supervisor's view when one answers (what it keeps in force), else the file as this process read it.
 */
function withConfig(report: StatusReport, config: Config | ConfigState): StatusReport {
  const kept = "kept" in config ? config.kept : [];
  for (const [name, message] of Object.entries(config.broken)) {
    const row = report.targets.find((t) => t.name === name);
    const note = kept.includes(name) ? `${message} Its last good entry stays in force.` : message;
    if (row) row.note = row.note ? `${row.note}; ${note}` : note;
    else report.targets.push(targetRow({ name, state: "invalid", note }));
  }
  return { ...report, problems: "problems" in config ? config.problems : configProblems(config) };
}

/** No supervisor: every configured target, and whatever else has a lock file, as the lock files describe them. */
async function fromLockFiles(config: Config): Promise<TargetStatus[]> {
  const names = targetNames(config);
  const locks = new Map(listLocks().map((l) => [l.name, l]));
  for (const name of locks.keys()) if (name !== SUPERVISOR && !names.includes(name)) names.push(name);
  return Promise.all(
    names.map(async (name) => {
      const entry = locks.get(name);
      const lock = entry?.alive ? entry.info : undefined;
      let target: ResolvedTarget | undefined;
      try {
        target = resolveTarget(config, name);
      } catch {}
      const healthy = lock && target ? await probe(target, lock) : false;
      // A stdio host tells about its children itself (it needs no supervisor for that).
      const stats = lock && healthy && target?.kind === "hosted" ? await fetchStats(lock.port, loadToken()) : undefined;
      const note =
        entry && !entry.alive
          ? "stale lock file (cleared on next start)"
          : lock && !healthy
            ? "not answering its health check"
            : !target && !(name in config.broken)
              ? "not in config.json"
              : null;
      return targetRow({
        name,
        target,
        state: lock ? "running" : "stopped",
        lock,
        since: lock ? Date.parse(lock.startedAt) : undefined,
        stats: { sessions: stats?.sessions ?? null, requests: null, connections: null, children: stats?.children },
        rssBytes: lock ? daemonRss(lock) : null,
        note,
        cache: cacheSummary(name),
      });
    }),
  );
}
