import { defineCommand } from "citty";
import { loadConfig, resolveTarget, targetNames, type Config } from "../../lib/config.ts";
import { isMsmError } from "../../lib/errors.ts";
import { listLocks, type LockInfo } from "../../lib/lock.ts";
import { callManager, findSupervisor, SUPERVISOR } from "../../lib/manager.ts";
import { msmHome, userHome } from "../../lib/paths.ts";
import { probe } from "../../lib/probe.ts";
import { groupRssBytes, rssBytes } from "../../lib/proc.ts";
import type { SupervisorStatus } from "../../supervisor/index.ts";
import type { TargetStatus } from "../../supervisor/keeper.ts";
import { loginState, type LoginState } from "../../remote/store.ts";
import { paint, table, useColor } from "../style.ts";

/** What `msm status --json` prints: the supervisor's view, or (supervisor: null) what the lock files say. */
export interface StatusReport {
  home: string;
  supervisor: SupervisorStatus["supervisor"] | null;
  targets: TargetStatus[];
  /** Remote (`"url"`) targets: whether `msm login NAME` has been done and until when the access token is good. */
  logins?: Record<string, LoginState>;
}

export async function collectStatus(): Promise<StatusReport> {
  const manager = await findSupervisor();
  if (manager) {
    try {
      const answer = await callManager<SupervisorStatus>(manager, "GET", "/status", 5_000);
      return { home: msmHome(), ...answer, ...logins() };
    } catch (error) {
      if (!isMsmError(error)) throw error;
    }
  }
  return { home: msmHome(), supervisor: null, targets: await fromLockFiles(), ...logins() };
}

/** Login state of every remote target, read from MSM_HOME/auth (the relay keeps it current). */
function logins(): { logins?: Record<string, LoginState> } {
  let config: Config;
  try {
    config = loadConfig();
  } catch {
    return {};
  }
  const remote = Object.entries(config.targets).filter(([, t]) => "url" in t);
  if (!remote.length) return {};
  return { logins: Object.fromEntries(remote.map(([name]) => [name, loginState(name)])) };
}

/** No supervisor: every configured target, and whatever else has a lock file, as the lock files describe them. */
async function fromLockFiles(): Promise<TargetStatus[]> {
  let names: string[] = ["memory"];
  let config: Config | undefined;
  try {
    config = loadConfig();
    names = targetNames(config);
  } catch {}
  const locks = new Map(listLocks().map((l) => [l.name, l]));
  for (const name of locks.keys()) if (name !== SUPERVISOR && !names.includes(name)) names.push(name);
  return Promise.all(
    names.map(async (name) => {
      const entry = locks.get(name);
      const info: LockInfo | undefined = entry?.alive ? entry.info : undefined;
      let target;
      try {
        target = config ? resolveTarget(config, name) : undefined;
      } catch {}
      const healthy = info && target ? await probe(target, info) : false;
      const started = info ? Date.parse(info.startedAt) : NaN;
      return {
        name,
        kind: target?.kind ?? "external",
        state: info ? "running" : "stopped",
        pid: info?.pid ?? null,
        port: info?.port ?? null,
        transport: info?.transport ?? target?.transport ?? "-",
        url: info ? `http://127.0.0.1:${info.port}${info.path ?? target?.path ?? ""}` : null,
        uptimeSeconds: info && Number.isFinite(started) ? Math.max(0, Math.round((Date.now() - started) / 1000)) : null,
        restarts: 0,
        sessions: null,
        connections: null,
        requests: null,
        rssBytes: info ? ((info.group ? groupRssBytes(info.pid) : rssBytes(info.pid)) ?? null) : null,
        idleMinutes: target?.idleMinutes ?? 0,
        note: entry && !entry.alive ? "stale lock file (cleared on next start)" : info && !healthy ? "not answering its health check" : !target ? "not in config.json" : null,
        lastLog: [],
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

const STATE_STYLE = { running: "green", starting: "yellow", backoff: "yellow", failed: "red", stopped: "gray" } as const;

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
  const idleNote = (t: TargetStatus) => (t.idleMinutes > 0 && t.state === "running" ? `stops after ${idleText(t.idleMinutes)} without sessions` : null);
  const notes = report.targets.filter((t) => t.note || t.lastLog.length || idleNote(t));
  if (notes.length) out.push("");
  for (const t of notes) {
    const parts = [t.note, idleNote(t)].filter(Boolean).join("; ");
    if (parts) out.push(`${c(t.name, "bold")}: ${t.state === "failed" ? c(parts, "red") : parts}`);
    for (const line of t.lastLog) out.push(c(`  │ ${line}`, "dim"));
    if (t.state === "failed") out.push(`  fix the cause, then run ${c(`msm restart ${t.name}`, "cyan")} (full log: msm logs ${t.name})`);
  }
  const logins = Object.entries(report.logins ?? {});
  if (logins.length) out.push("");
  for (const [name, login] of logins) {
    if (!login.loggedIn) {
      out.push(`${c(name, "bold")}: ${c("not logged in", "yellow")} — run ${c(`msm login ${name}`, "cyan")}`);
      continue;
    }
    const expiry = login.expiresAt === null ? "" : ` · access token ${login.expiresAt > Date.now() ? "valid until" : "expired at"} ${new Date(login.expiresAt).toLocaleString()}`;
    out.push(`${c(name, "bold")}: ${c("logged in", "green")}${expiry}${login.refreshable ? " · refreshed by msm" : ""}`);
  }
  return out.join("\n") + "\n";
}

export default defineCommand({
  meta: { name: "status", description: "Show every target: state, pid, port, uptime, restarts, sessions, memory (exit 1 if one failed)" },
  args: {
    json: { type: "boolean", description: "Print JSON instead of a table", default: false },
  },
  async run({ args }) {
    const report = await collectStatus();
    process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : renderStatus(report));
    if (report.targets.some((t) => t.state === "failed")) process.exitCode = 1;
  },
});
