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
import { paint, table, truncate, useColor, visibleLength, wrap } from "../style.ts";

/** What `msm status --json` prints: the supervisor's view, or (supervisor: null) what the lock files say. */
export interface StatusReport {
  home: string;
  supervisor: SupervisorStatus["supervisor"] | null;
  targets: TargetStatus[];
}

export async function collectStatus(): Promise<StatusReport> {
  const manager = await findSupervisor();
  if (manager) {
    try {
      const answer = await callManager<SupervisorStatus>(manager, "GET", "/status", 5_000);
      return { home: msmHome(), ...answer };
    } catch (error) {
      if (!isMsmError(error)) throw error;
    }
  }
  return { home: msmHome(), supervisor: null, targets: await fromLockFiles() };
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

/** `msm status` is read in the narrowest common terminal. */
export const STATUS_WIDTH = 80;

interface Column {
  head: string;
  cell: (t: TargetStatus) => string;
}

/**
 * The table a person reads: one line per target, a dot coloured by state, notes and failure logs underneath. Every
 * line fits STATUS_WIDTH: the least useful columns go first when it would not (all of them are in --json), then
 * long target names are cut.
 */
export function renderStatus(report: StatusReport, color = useColor(), width = STATUS_WIDTH): string {
  const c = (text: string, style: Parameters<typeof paint>[1]) => paint(text, style, color);
  const home = report.home.startsWith(userHome() + "/") ? `~${report.home.slice(userHome().length)}` : report.home;
  const out: string[] = [];
  // The home path is the one part that can be long: its own segment, cut in the middle if it alone is too wide.
  const where = c(home.length > width ? `${home.slice(0, 20)}…${home.slice(home.length - width + 21)}` : home, "dim");
  const head = report.supervisor
    ? [`${c("msm", "bold")} ${report.supervisor.version}`, `supervisor pid ${report.supervisor.pid} on 127.0.0.1:${report.supervisor.port}`, `up ${formatUptime(report.supervisor.uptimeSeconds)}`, where]
    : [c("msm", "bold"), `${c("supervisor not running", "yellow")} (it starts with the next session)`, "read from lock files", where];
  out.push(...joinWrapped(head, " · ", width));
  out.push("");
  const dash = (v: number | null) => (v === null ? "-" : v.toLocaleString("en-US"));
  // In the order they are given up when the table is too wide: the last one first.
  const columns: Column[] = [
    { head: "TARGET", cell: (t) => c(t.name, "bold") },
    { head: "STATE", cell: (t) => c(`● ${t.state}`, STATE_STYLE[t.state]) },
    { head: "PID", cell: (t) => t.pid?.toString() ?? "-" },
    { head: "PORT", cell: (t) => t.port?.toString() ?? "-" },
    { head: "UPTIME", cell: (t) => formatUptime(t.uptimeSeconds) },
    { head: "SESSIONS", cell: (t) => dash(t.sessions ?? t.connections) },
    { head: "MEMORY", cell: (t) => formatBytes(t.rssBytes) },
    { head: "RESTARTS", cell: (t) => (t.restarts ? c(String(t.restarts), t.restarts > 2 ? "yellow" : "cyan") : "0") },
    { head: "REQUESTS", cell: (t) => dash(t.requests) },
    { head: "TRANSPORT", cell: (t) => t.transport },
  ];
  const render = (cols: Column[], nameWidth = Infinity) =>
    table([cols.map((col) => c(col.head, "dim")), ...report.targets.map((t) => cols.map((col, i) => (i === 0 ? truncate(col.cell(t), nameWidth) : col.cell(t))))]);
  const widest = (text: string) => Math.max(...text.split("\n").map(visibleLength));
  const names = Math.max("TARGET".length, ...report.targets.map((t) => t.name.length));
  // Too wide: give up TRANSPORT and REQUESTS, then cut long names to 16, then the other optional columns, then names.
  let shown = columns;
  let nameWidth = names;
  const fits = () => widest(render(shown, nameWidth)) <= width;
  while (!fits() && shown.length > 8) shown = shown.slice(0, -1);
  if (!fits()) nameWidth = Math.max(16, names - (widest(render(shown, nameWidth)) - width));
  while (!fits() && shown.length > 4) shown = shown.slice(0, -1);
  if (!fits()) nameWidth = Math.max("TARGET".length, nameWidth - (widest(render(shown, nameWidth)) - width));
  out.push(render(shown, nameWidth));
  const idleNote = (t: TargetStatus) => (t.idleMinutes > 0 && t.state === "running" ? `stops after ${idleText(t.idleMinutes)} without sessions` : null);
  const notes = report.targets.filter((t) => t.note || t.lastLog.length || idleNote(t));
  if (notes.length) out.push("");
  for (const t of notes) {
    const parts = [t.note, idleNote(t)].filter(Boolean).join("; ");
    if (parts) out.push(...wrap(`${c(t.name, "bold")}: ${t.state === "failed" ? c(parts, "red") : parts}`, width, "  "));
    for (const line of t.lastLog) out.push(c(truncate(`  │ ${line}`, width), "dim"));
    if (t.state === "failed") out.push(...wrap(`  fix the cause, then run ${c(`msm restart ${t.name}`, "cyan")} (full log: msm logs ${t.name})`, width, "  "));
  }
  return out.join("\n") + "\n";
}

/** Segments joined by `separator`, starting a new line instead of running past `width`. */
function joinWrapped(segments: string[], separator: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const segment of segments) {
    if (line && visibleLength(line + separator + segment) > width) {
      lines.push(line);
      line = segment;
    } else {
      line = line ? line + separator + segment : segment;
    }
  }
  if (line) lines.push(line);
  return lines;
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
