import { defineCommand } from "citty";
import { configProblems, loadConfig, resolveTarget, targetNames, type Config } from "../../lib/config.ts";
import { isMsmError } from "../../lib/errors.ts";
import { listLocks, type LockInfo } from "../../lib/lock.ts";
import { callManager, findSupervisor, SUPERVISOR } from "../../lib/manager.ts";
import { msmHome, userHome } from "../../lib/paths.ts";
import { probe } from "../../lib/probe.ts";
import { groupRssBytes, rssBytes } from "../../lib/proc.ts";
import type { SupervisorStatus } from "../../supervisor/index.ts";
import { fetchStats } from "../../supervisor/activity.ts";
import type { TargetStatus } from "../../supervisor/keeper.ts";
import { loadToken } from "../../lib/token.ts";
import { skewNote } from "../../lib/skew.ts";
import { VERSION } from "../../lib/version.ts";
import { paint, table, useColor } from "../style.ts";

/** What `msm status --json` prints: the supervisor's view, or (supervisor: null) what the lock files say. */
export interface StatusReport {
  home: string;
  supervisor: SupervisorStatus["supervisor"] | null;
  targets: TargetStatus[];
  /** What is wrong in config.json, one message per problem, each naming its key (status exits 1 when any). */
  problems: string[];
}

export async function collectStatus(): Promise<StatusReport> {
  const config = loadConfig();
  const manager = await findSupervisor();
  if (manager) {
    try {
      const answer = await callManager<SupervisorStatus>(manager, "GET", "/status", 5_000);
      return withConfig({ home: msmHome(), ...answer, problems: [] }, config);
    } catch (error) {
      if (!isMsmError(error)) throw error;
    }
  }
  return withConfig({ home: msmHome(), supervisor: null, targets: await fromLockFiles(config), problems: [] }, config);
}

/**
 * config.json's problems go into the report: a broken entry is a row of its own (state `invalid`, the message as
 * its note) unless its daemon still runs from before the typo, whose row then carries the message.
 */
function withConfig(report: StatusReport, config: Config): StatusReport {
  for (const [name, message] of Object.entries(config.broken)) {
    const row = report.targets.find((t) => t.name === name);
    if (row) row.note = row.note ? `${row.note}; ${message}` : message;
    else report.targets.push(invalidRow(name, message));
  }
  return { ...report, problems: configProblems(config) };
}

function invalidRow(name: string, message: string): TargetStatus {
  return {
    name,
    kind: "external",
    state: "invalid",
    pid: null,
    port: null,
    transport: "-",
    url: null,
    uptimeSeconds: null,
    restarts: 0,
    sessions: null,
    connections: null,
    requests: null,
    rssBytes: null,
    idleMinutes: 0,
    version: null,
    note: message,
    lastLog: [],
  };
}

/** No supervisor: every configured target, and whatever else has a lock file, as the lock files describe them. */
async function fromLockFiles(config: Config): Promise<TargetStatus[]> {
  const names = targetNames(config);
  const locks = new Map(listLocks().map((l) => [l.name, l]));
  for (const name of locks.keys()) if (name !== SUPERVISOR && !names.includes(name)) names.push(name);
  return Promise.all(
    names.map(async (name) => {
      const entry = locks.get(name);
      const info: LockInfo | undefined = entry?.alive ? entry.info : undefined;
      let target;
      try {
        target = resolveTarget(config, name);
      } catch {}
      const healthy = info && target ? await probe(target, info) : false;
      // A stdio host tells about its children itself (it needs no supervisor for that).
      const stats = info && healthy && target?.kind === "hosted" ? await fetchStats(info.port, loadToken()) : undefined;
      const started = info ? Date.parse(info.startedAt) : NaN;
      return {
        name,
        kind: target?.kind ?? "external",
        state: info ? "running" : "stopped",
        pid: info?.pid ?? null,
        port: info?.port ?? null,
        transport: info?.transport ?? target?.transport ?? "-",
        url: info ? `http://127.0.0.1:${info.port}${info.path ?? target?.path ?? ""}` : null,
        version: info?.version ?? null,
        uptimeSeconds: info && Number.isFinite(started) ? Math.max(0, Math.round((Date.now() - started) / 1000)) : null,
        restarts: 0,
        sessions: stats?.sessions ?? null,
        connections: null,
        requests: null,
        rssBytes: info ? ((info.group ? groupRssBytes(info.pid) : rssBytes(info.pid)) ?? null) : null,
        idleMinutes: target?.idleMinutes ?? 0,
        note: entry && !entry.alive ? "stale lock file (cleared on next start)" : info && !healthy ? "not answering its health check" : !target && !(name in config.broken) ? "not in config.json" : null,
        lastLog: [],
        ...(target?.kind === "hosted" ? { children: stats?.children ?? [] } : {}),
      } satisfies TargetStatus;
    }),
  );
}

export function formatUptime(seconds: number | null): string {
  if (seconds === null) return "-";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MB`;
  return `${Math.round(bytes / 1024)} kB`;
}

function idleText(minutes: number): string {
  return minutes >= 1 ? `${minutes} min` : `${Math.round(minutes * 60)} s`;
}

const STATE_STYLE = { running: "green", starting: "yellow", backoff: "yellow", unresponsive: "yellow", failed: "red", invalid: "red", stopped: "gray" } as const;

/** The table a person reads: one line per target, a dot coloured by state, notes and failure logs underneath. */
export function renderStatus(report: StatusReport, color = useColor()): string {
  const c = (text: string, style: Parameters<typeof paint>[1]) => paint(text, style, color);
  const home = report.home.startsWith(userHome() + "/") ? `~${report.home.slice(userHome().length)}` : report.home;
  const out: string[] = [];
  if (report.supervisor) {
    const s = report.supervisor;
    out.push(`${c("msm", "bold")} ${s.version} · supervisor pid ${s.pid} on 127.0.0.1:${s.port} · up ${formatUptime(s.uptimeSeconds)} · ${c(home, "dim")}`);
  } else {
    out.push(`${c("msm", "bold")} · ${c("supervisor not running", "yellow")} (it starts with the next session) · from lock files in ${c(home, "dim")}`);
  }
  out.push("");
  const rows = [["TARGET", "STATE", "PID", "PORT", "TRANSPORT", "UPTIME", "RESTARTS", "SESSIONS", "REQUESTS", "MEMORY"].map((h) => c(h, "dim"))];
  const dash = (v: number | null) => (v === null ? "-" : v.toLocaleString("en-US"));
  for (const t of report.targets) {
    const style = STATE_STYLE[t.state];
    rows.push([
      c(t.name, "bold"),
      c(`● ${t.state}`, style),
      t.pid?.toString() ?? "-",
      t.port?.toString() ?? "-",
      t.transport,
      formatUptime(t.uptimeSeconds),
      t.restarts ? c(String(t.restarts), t.restarts > 2 ? "yellow" : "cyan") : "0",
      dash(t.sessions ?? t.connections),
      dash(t.requests),
      formatBytes(t.rssBytes),
    ]);
  }
  out.push(table(rows));
  const tilde = (p: string) => (p.startsWith(userHome() + "/") ? `~${p.slice(userHome().length)}` : p);
  for (const t of report.targets) {
    if (!t.children?.length) continue;
    out.push("", `${c(t.name, "bold")} children (stdio):`);
    const childRows = [["  PROJECT", "STATE", "PID", "UPTIME", "RESTARTS", "SESSIONS", "MEMORY"].map((h) => c(h, "dim"))];
    for (const child of t.children) {
      childRows.push([
        `  ${child.project ? tilde(child.project) : "(global)"}`,
        c(`● ${child.state}`, STATE_STYLE[child.state]),
        child.pid?.toString() ?? "-",
        formatUptime(child.uptimeSeconds),
        child.restarts ? c(String(child.restarts), child.restarts > 2 ? "yellow" : "cyan") : "0",
        String(child.sessions),
        formatBytes(child.rssBytes),
      ]);
    }
    out.push(table(childRows));
    for (const child of t.children) {
      if (child.state === "failed" || child.note) out.push(`  ${child.project ? tilde(child.project) : "(global)"}: ${child.state === "failed" ? c(child.note ?? "failed", "red") : child.note}`);
      for (const line of child.lastStderr) out.push(c(`    │ ${line}`, "dim"));
      if (child.state === "failed") out.push(`    fix the cause, then run ${c(`msm restart ${t.name}${child.project ? ` --project ${child.project}` : ""}`, "cyan")}`);
    }
  }
  const skew = skewLines(report);
  if (skew.length) out.push("", ...skew.map((line) => c(line, "yellow")));
  const idleNote = (t: TargetStatus) =>
    t.idleMinutes > 0 && t.state === "running" ? `${t.kind === "hosted" ? "children stop" : "stops"} after ${idleText(t.idleMinutes)} without sessions` : null;
  const notes = report.targets.filter((t) => t.note || t.lastLog.length || idleNote(t));
  if (notes.length) out.push("");
  for (const t of notes) {
    const parts = [t.note, idleNote(t)].filter(Boolean).join("; ");
    if (parts) out.push(`${c(t.name, "bold")}: ${t.state === "failed" ? c(parts, "red") : parts}`);
    for (const line of t.lastLog) out.push(c(`  │ ${line}`, "dim"));
    if (t.state === "failed") out.push(`  fix the cause, then run ${c(`msm restart ${t.name}`, "cyan")} (full log: msm logs ${t.name})`);
  }
  // Problems not already shown as a target's note (the file as a whole: not JSON, an unknown top-level key).
  const general = report.problems.filter((p) => !report.targets.some((t) => t.note?.includes(p)));
  if (general.length) {
    out.push("", c("config.json has a problem (memory and valid targets keep working):", "red"));
    for (const problem of general) out.push(`  ${problem}`);
  }
  return out.join("\n") + "\n";
}

/** Processes of another msm version than this binary (after an upgrade), each with the command that fixes it. */
export function skewLines(report: StatusReport, ours = VERSION): string[] {
  const lines: string[] = [];
  const supervisor = report.supervisor && skewNote(`the supervisor (pid ${report.supervisor.pid})`, report.supervisor.version, ours);
  if (supervisor) lines.push(supervisor);
  for (const t of report.targets) {
    const note = t.state === "running" ? skewNote(`${t.name} (pid ${t.pid})`, t.version ?? undefined, ours) : undefined;
    if (note) lines.push(note);
  }
  return lines;
}

export default defineCommand({
  meta: { name: "status", description: "Show every target: state, pid, port, sessions, memory (exit 1 on a problem)" },
  args: {
    json: { type: "boolean", description: "Print JSON instead of a table", default: false },
  },
  async run({ args }) {
    const report = await collectStatus();
    // --json adds this binary's version and the skew lines, so scripts see an upgrade half done.
    process.stdout.write(args.json ? JSON.stringify({ ...report, version: VERSION, skew: skewLines(report) }, null, 2) + "\n" : renderStatus(report));
    if (report.problems.length || report.targets.some((t) => t.state === "failed" || t.state === "invalid")) process.exitCode = 1;
  },
});
