import { resolve } from "node:path";
import { defineCommand } from "citty";
import { loadConfig, readConfig, targetKind, targetNames, type Config } from "../../lib/config.ts";
import { isMsmError, MsmError } from "../../lib/errors.ts";
import { toolsReport, type ToolsReport } from "../../lib/tool-costs.ts";
import type { TargetStatus } from "../../lib/contracts/supervisor-api.ts";
import { formatMinutes } from "../../lib/format.ts";
import { checkHomeReadable, tilde } from "../../lib/paths.ts";
import { skewNote } from "../../lib/skew.ts";
import { VERSION } from "../../lib/version.ts";
import { statusReport, type StatusReport as BaseReport } from "../../supervisor/index.ts";
import { paint, table, truncate, useColor, visibleLength, wrap } from "../style.ts";
import { loginState, type LoginState } from "../../remote/index.ts";

/** What `msm status --json` prints: supervisor/status.ts's report, plus the remote targets' logins. */
export interface StatusReport extends BaseReport {
  /** Remote (`"url"`) targets: whether `msm login NAME` has been done and until when the access token is good. */
  logins?: Record<string, LoginState>;
}

export async function collectStatus(): Promise<StatusReport> {
  // Unreadable, MSM_HOME would look empty: "supervisor not running" when it is only out of reach.
  checkHomeReadable();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    // A file that is not the user's: reported like any broken file (the supervisor keeps its last good config).
    if (!isMsmError(error) || error.code !== "CONFIG_UNSAFE") throw error;
    config = { ...readConfig("{}"), error: error.message };
  }
  return { ...(await statusReport(config)), ...logins(config) };
}

/** Login state of every remote target, read from MSM_HOME/auth (the relay keeps it current). */
function logins(config: Config): { logins?: Record<string, LoginState> } {
  const remote = Object.entries(config.targets).filter(([name, t]) => targetKind(name, t) === "remote");
  if (!remote.length) return {};
  return {
    logins: Object.fromEntries(
      remote.map(([name, t]) => [name, loginState(name, (t as { oauth?: { grant?: string } }).oauth?.grant === "client_credentials")]),
    ),
  };
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

const STATE_STYLE = {
  running: "green",
  starting: "yellow",
  backoff: "yellow",
  unresponsive: "yellow",
  degraded: "red",
  failed: "red",
  invalid: "red",
  stopped: "gray",
  cached: "cyan",
} as const;

/** States that need the user: `msm status` exits 1 on any (a degraded host's failed child fails its sessions). */
export const PROBLEM_STATES: readonly string[] = ["failed", "invalid", "degraded"];

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
  const home = tilde(report.home);
  const out: string[] = [];
  // The home path is the one part that can be long: its own segment, cut in the middle if it alone is too wide.
  const where = c(home.length > width ? `${home.slice(0, 20)}…${home.slice(home.length - width + 21)}` : home, "dim");
  const head = report.supervisor
    ? [
        `${c("msm", "bold")} ${report.supervisor.version}`,
        `supervisor pid ${report.supervisor.pid} on 127.0.0.1:${report.supervisor.port}`,
        `up ${formatUptime(report.supervisor.uptimeSeconds)}`,
        where,
      ]
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
    table([
      cols.map((col) => c(col.head, "dim")),
      ...report.targets.map((t) => cols.map((col, i) => (i === 0 ? truncate(col.cell(t), nameWidth) : col.cell(t)))),
    ]);
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
  // A hosted stdio server's children, one per project (or one global, or one per session).
  for (const t of report.targets) {
    if (!t.children?.length) continue;
    out.push("", `${c(t.name, "bold")} children (stdio):`);
    const childRows = [["  PROJECT", "STATE", "PID", "UPTIME", "RESTARTS", "SESSIONS", "MEMORY"].map((h) => c(h, "dim"))];
    for (const child of t.children) {
      childRows.push([
        // Long project paths keep their end, the part that names the project.
        // A pool's children (`instances`) say which one they are.
        `  ${child.project ? truncateStart(tilde(child.project), child.instance ? 24 : 28) : "(global)"}${child.instance ? ` #${child.instance}` : ""}`,
        c(`● ${child.state}`, STATE_STYLE[child.state]),
        child.pid?.toString() ?? "-",
        formatUptime(child.uptimeSeconds),
        child.restarts ? c(String(child.restarts), child.restarts > 2 ? "yellow" : "cyan") : "0",
        String(child.sessions),
        formatBytes(child.rssBytes),
      ]);
    }
    out.push(table(childRows));
    // Sessions that would show the server different things (protocol version, capabilities, roots) get children of
    // their own: where a project has several, say how they differ; and which children's sessions take turns.
    const perProject = new Map<string | null, number>();
    // The instances of one pool show the same thing: they count once.
    for (const child of t.children) if ((child.instance ?? 1) === 1) perProject.set(child.project, (perProject.get(child.project) ?? 0) + 1);
    for (const child of t.children) {
      const name = `${child.project ? tilde(child.project) : "(global)"}${child.instance ? ` #${child.instance}` : ""}`;
      const why = [
        (perProject.get(child.project) ?? 0) > 1 ? child.variant : undefined,
        child.takesTurns ? "its sessions take turns (the server may ask them questions)" : undefined,
      ];
      const said = why.filter(Boolean).join("; ");
      if (said) out.push(...wrap(c(`  ${name}: ${said}`, "dim"), width, "    "));
      if (child.state === "failed" || child.note)
        out.push(...wrap(`  ${name}: ${child.state === "failed" ? c(child.note ?? "failed", "red") : child.note}`, width, "    "));
      for (const line of child.lastStderr) out.push(c(truncate(`    │ ${line}`, width), "dim"));
      if (child.state === "failed")
        out.push(
          ...wrap(`    fix the cause, then run ${c(`msm restart ${t.name}${child.project ? ` --project ${child.project}` : ""}`, "cyan")}`, width, "    "),
        );
    }
  }
  const skew = skewLines(report);
  if (skew.length) out.push("", ...skew.flatMap((line) => wrap(c(line, "yellow"), width, "  ")));
  const idleNote = (t: TargetStatus) => {
    if (t.state !== "running") return null;
    const hosted = t.kind === "hosted";
    const child = hosted ? (t.childIdleMinutes ?? t.idleMinutes) : 0;
    const parts: string[] = [];
    if (child > 0) parts.push(`children stop after ${formatMinutes(child)}`);
    // A host stopping with its children says nothing new.
    if (t.idleMinutes > 0 && !(hosted && t.idleMinutes === child)) parts.push(`${hosted ? "the host stops" : "stops"} after ${formatMinutes(t.idleMinutes)}`);
    return parts.length ? `${parts.join(", ")} without sessions` : null;
  };
  // Not started: its sessions are answered from what the server said before, until their first real call.
  const cacheNote = (t: TargetStatus) =>
    t.state === "cached" && t.cache
      ? `not started; sessions are answered from the discovery cache (${t.cache.entries} ${t.cache.entries === 1 ? "entry" : "entries"}, written ${formatUptime(t.cache.ageSeconds)} ago) until their first call (msm refresh ${t.name} rebuilds it)`
      : null;
  const notes = report.targets.filter((t) => t.note || t.lastLog.length || idleNote(t) || cacheNote(t));
  if (notes.length) out.push("");
  for (const t of notes) {
    const parts = [cacheNote(t), t.note, idleNote(t)].filter(Boolean).join("; ");
    if (parts) out.push(...wrap(`${c(t.name, "bold")}: ${t.state === "failed" || t.state === "degraded" ? c(parts, "red") : parts}`, width, "  "));
    for (const line of t.lastLog) out.push(c(truncate(`  │ ${line}`, width), "dim"));
    if (t.state === "failed") out.push(...wrap(`  fix the cause, then run ${c(`msm restart ${t.name}`, "cyan")} (full log: msm logs ${t.name})`, width, "  "));
  }
  // Problems not already shown as a target's note (the file as a whole: not JSON, an unknown top-level key).
  const general = report.problems.filter((p) => !report.targets.some((t) => t.note?.includes(p)));
  if (general.length) {
    // With a supervisor that rejected the edit, nothing of it applies; without one, the valid parts will.
    const applied = report.config ? new Date(report.config.appliedAt).toLocaleTimeString() : "";
    const head = report.config?.keptAll
      ? `config.json has a problem; the supervisor keeps the last good config (read at ${applied}) until it is fixed:`
      : "config.json has a problem (memory and valid targets keep working):";
    out.push("", ...wrap(c(head, "red"), width, "  "));
    // Not wrapped: a message is searched for and copied whole.
    for (const problem of general) out.push(`  ${problem}`);
  }
  for (const note of report.config?.needsRestart ?? []) out.push("", ...wrap(c(note, "yellow"), width, "  "));
  const logins = Object.entries(report.logins ?? {});
  if (logins.length) out.push("");
  for (const [name, login] of logins) {
    if (!login.loggedIn) {
      out.push(`${c(name, "bold")}: ${c("not logged in", "yellow")} — run ${c(`msm login ${name}`, "cyan")}`);
      continue;
    }
    const expiry =
      login.expiresAt === null
        ? ""
        : ` · access token ${login.expiresAt > Date.now() ? "valid until" : "expired at"} ${new Date(login.expiresAt).toLocaleString()}`;
    out.push(`${c(name, "bold")}: ${c("logged in", "green")}${expiry}${login.refreshable ? " · refreshed by msm" : ""}`);
  }
  return out.join("\n") + "\n";
}

/** Processes of another msm version than this binary (after an upgrade), each with the command that fixes it. */
export function skewLines(report: StatusReport, ours = VERSION): string[] {
  const lines: string[] = [];
  const supervisor = report.supervisor && skewNote(`the supervisor (pid ${report.supervisor.pid})`, report.supervisor.version, ours);
  if (supervisor) lines.push(supervisor);
  for (const t of report.targets) {
    const note = t.state === "running" || t.state === "degraded" ? skewNote(`${t.name} (pid ${t.pid})`, t.version ?? undefined, ours) : undefined;
    if (note) lines.push(note);
  }
  return lines;
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
  meta: { name: "status", description: "Show every target: state, pid, port, sessions, memory (exit 1 on a problem); --tools: each tool's cost in tokens" },
  args: {
    name: { type: "positional", required: false, description: "Only this target" },
    tools: {
      type: "boolean",
      description: "List the tools (of NAME, or a summary of every target) with their estimated tokens, hidden ones marked",
      default: false,
    },
    project: { type: "string", description: "With --tools: apply this project folder's .claude/msm.json rules too" },
    json: { type: "boolean", description: "Print JSON instead of a table", default: false },
  },
  async run({ args }) {
    const name = args.name as string | undefined;
    if (name !== undefined && args.tools) {
      // Only names config.json has (a name becomes part of a cache folder's path).
      const config = loadConfig();
      const known = [...targetNames(config), ...Object.keys(config.broken)];
      if (!known.includes(name)) throw new MsmError("UNKNOWN_TARGET", `Unknown target "${name}". Known targets: ${known.join(", ")}.`);
    }
    if (args.tools) {
      const project = args.project ? resolve(args.project) : undefined;
      const report = toolsReport(name !== undefined ? [name] : targetNames(loadConfig()), project);
      process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : name !== undefined ? renderTargetTools(report) : renderToolsSummary(report));
      return;
    }
    if (args.project)
      throw new MsmError("USAGE", '--project is for --tools (it names the project whose .claude/msm.json rules to apply). Run "msm status --help".');
    const full = await collectStatus();
    // The report's rows are the names there are: the supervisor's config in force (its last good one while
    // config.json is broken), the file's broken entries, running daemons.
    const known = full.targets.map((t) => t.name);
    if (name !== undefined && !known.includes(name)) throw new MsmError("UNKNOWN_TARGET", `Unknown target "${name}". Known targets: ${known.join(", ")}.`);
    const report = name === undefined ? full : { ...full, targets: full.targets.filter((t) => t.name === name) };
    // --json adds this binary's version and the skew lines, so scripts see an upgrade half done.
    process.stdout.write(args.json ? JSON.stringify({ ...report, version: VERSION, skew: skewLines(report) }, null, 2) + "\n" : renderStatus(report));
    if (report.problems.length || report.targets.some((t) => PROBLEM_STATES.includes(t.state))) process.exitCode = 1;
  },
});

const count = (n: number) => n.toLocaleString("en-US");
const percent = (part: number, whole: number) => (whole ? `${Math.round((100 * part) / whole)} %` : "0 %");

/** What fills an empty cache, said where a list is missing. */
const fillHint = (target: string) => `no tool list cached yet; "msm refresh ${target}" or a session of it fills it`;

/**
 * `msm status NAME --tools`: every tool of one target with its estimated tokens, the shown ones first, each group
 * costliest first (what to cut is at the top), hidden ones marked with the rule that hides them.
 */
export function renderTargetTools(report: ToolsReport, color = useColor(), width = STATUS_WIDTH): string {
  const c = (text: string, style: Parameters<typeof paint>[1]) => paint(text, style, color);
  const t = report.targets[0]!;
  if (!t.listed) return `${c(t.target, "bold")}: ${fillHint(t.target)}.\n`;
  const out: string[] = [];
  const from = t.project ? `a session in ${tilde(t.project)}` : "a session";
  const age = t.updatedAt === undefined ? "" : ` ${formatUptime(Math.max(0, Math.round((Date.now() - t.updatedAt) / 1000)))} ago`;
  out.push(...wrap(`${c(t.target, "bold")}: ${t.tools.length} tools, as listed to ${from}${age}`, width, "  "), "");
  const byCost = (a: { tokens: number }, b: { tokens: number }) => b.tokens - a.tokens;
  const ordered = [...t.tools.filter((tool) => !tool.hidden).sort(byCost), ...t.tools.filter((tool) => tool.hidden).sort(byCost)];
  const reasons = Math.max(0, ...ordered.map((tool) => (tool.hidden ? `hidden: ${tool.hidden}`.length : 0)));
  const nameWidth = Math.max(8, Math.min(Math.max(...ordered.map((tool) => tool.name.length), 4), width - 10 - reasons));
  const rows = [[c("TOOL", "dim"), c("TOKENS", "dim"), ""]];
  for (const tool of ordered) {
    const name = truncate(tool.name, nameWidth);
    rows.push([tool.hidden ? c(name, "gray") : name, count(tool.tokens).padStart(6), tool.hidden ? c(`hidden: ${tool.hidden}`, "gray") : ""]);
  }
  out.push(table(rows), "");
  const all = t.shown.tokens + t.hidden.tokens;
  out.push(`shown:  ${t.shown.tools} tools, ${count(t.shown.tokens)} tokens`);
  if (t.hidden.tools) {
    const files = [...new Set(t.tools.map((tool) => tool.hiddenIn).filter((f): f is string => f !== undefined))].map(tilde);
    out.push(
      ...wrap(
        `hidden: ${t.hidden.tools} tools, ${count(t.hidden.tokens)} tokens (${percent(t.hidden.tokens, all)} of ${count(all)}) saved in every session${files.length ? `, by ${files.join(" and ")}` : ""}`,
        width,
        "        ",
      ),
    );
  }
  out.push("", ...footnote(report, width).map((line) => c(line, "dim")));
  return out.join("\n") + "\n";
}

/** `msm status --tools`: one line per target (tools and tokens, shown and hidden) and the total. */
export function renderToolsSummary(report: ToolsReport, color = useColor(), width = STATUS_WIDTH): string {
  const c = (text: string, style: Parameters<typeof paint>[1]) => paint(text, style, color);
  const rows = [["TARGET", "TOOLS", "SHOWN", "TOKENS", "HIDDEN", "TOKENS HIDDEN"].map((head) => c(head, "dim"))];
  const cells = (tools: number, shown: number, tokens: number, hidden: number, saved: number) =>
    [tools, shown, tokens, hidden, saved].map((n, i) => count(n).padStart(["TOOLS", "SHOWN", "TOKENS", "HIDDEN", "TOKENS HIDDEN"][i]!.length));
  for (const t of report.targets) {
    const name = truncate(t.target, 20);
    if (!t.listed)
      rows.push([c(name, "bold"), ...["-", "-", "-", "-", "-"].map((d, i) => d.padStart(["TOOLS", "SHOWN", "TOKENS", "HIDDEN", "TOKENS HIDDEN"][i]!.length))]);
    else rows.push([c(name, "bold"), ...cells(t.tools.length, t.shown.tools, t.shown.tokens, t.hidden.tools, t.hidden.tokens)]);
  }
  const { shown, hidden } = report.total;
  rows.push([c("all", "bold"), ...cells(shown.tools + hidden.tools, shown.tools, shown.tokens, hidden.tools, hidden.tokens)]);
  const out = [table(rows)];
  const missing = report.targets.filter((t) => !t.listed);
  if (missing.length) out.push("", ...missing.flatMap((t) => wrap(`${t.target}: ${fillHint(t.target)}`, width, "  ")));
  out.push("", ...footnote(report, width, true).map((line) => c(line, "dim")));
  return out.join("\n") + "\n";
}

function footnote(report: ToolsReport, width: number, summary = false): string[] {
  const rules = report.project ? `config.json and ${tilde(report.project)}/.claude/msm.json` : "config.json (--project DIR adds a project's .claude/msm.json)";
  return [
    ...wrap(report.note, width, "  "),
    ...wrap(`hidden: by the tool rules of ${rules}${summary ? '; "msm status NAME --tools" lists a target\'s tools' : ""}`, width, "  "),
  ];
}

/** `text` cut to `max` characters from the left, so its end stays readable. */
function truncateStart(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}
