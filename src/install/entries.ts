import { basename, join } from "node:path";
import { msmHome, userHome } from "../lib/paths.ts";
import { shellPlaceholderProblem } from "../lib/placeholders.ts";
import { selfCommand } from "../lib/spawn.ts";
import type { EditorClient, StdioEntry } from "./client.ts";

/** How an entry starts msm: this binary's absolute path (or `--command`), and MSM_HOME when it is not the default. */
export interface Launcher {
  command: string;
  prefix: string[];
  env: Record<string, string>;
}

export function launcher(command?: string): Launcher {
  const [self, ...prefix] = selfCommand();
  // Codex and Claude Desktop hand stdio servers only a few variables: a non-default MSM_HOME must ride in the entry,
  // or the editor's sessions start a second supervisor and daemons under the default home.
  const home = msmHome();
  const env: Record<string, string> = home !== join(userHome(), ".mcp-session-manager") ? { MSM_HOME: home } : {};
  return command ? { command, prefix: [], env } : { command: self!, prefix, env };
}

/** The stdio entry that runs `msm proxy --target NAME`. */
export function proxyEntry(how: Launcher, target: string): StdioEntry {
  return { command: how.command, args: [...how.prefix, "proxy", "--target", target], env: { ...how.env } };
}

/** Which target an entry proxies, if it is msm's (`… proxy --target NAME` run by an msm binary). */
export function msmTargetOf(entry: unknown): string | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  const { command, args } = entry as { command?: unknown; args?: unknown };
  if (typeof command !== "string" || !Array.isArray(args)) return undefined;
  const at = args.findIndex((a, i) => a === "proxy" && args[i + 1] === "--target" && typeof args[i + 2] === "string");
  if (at < 0) return undefined;
  const self = selfCommand()[0];
  const isMsm = /^msm(?:-[\w-]+)?(?:\.exe)?$/i.test(basename(command)) || command === self;
  return isMsm ? (args[at + 2] as string) : undefined;
}

/** Keys that describe how to start a stdio server; everything else in an entry (timeouts, tool filters) is carried. */
const LAUNCH_KEYS = new Set(["type", "command", "args", "env", "cwd"]);

/** An entry's keys beyond how to start the server. */
export function extraKeys(entry: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entry).filter(([k]) => !LAUNCH_KEYS.has(k)));
}

export type Classified =
  | { kind: "stdio"; server: { command: string; args: string[]; env: Record<string, string>; cwd?: string }; extra: Record<string, unknown> }
  | { kind: "remote" }
  | { kind: "skip"; reason: string };

/** Sorts an editor's entry for `import`: a stdio server msm can host, a URL server left alone, or why not. */
export function classify(entry: unknown, projectVariable?: string): Classified {
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return { kind: "skip", reason: "not an object" };
  const e = entry as Record<string, unknown>;
  if (typeof e.url === "string" || typeof e.serverUrl === "string" || (typeof e.type === "string" && e.type !== "stdio")) return { kind: "remote" };
  if (typeof e.command !== "string" || e.command === "") return { kind: "skip", reason: "it has no command" };
  const args = e.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) return { kind: "skip", reason: "its args are not all strings" };
  const env = e.env ?? {};
  if (typeof env !== "object" || Array.isArray(env) || !Object.values(env as object).every((v) => typeof v === "string")) {
    return { kind: "skip", reason: "its env values are not all strings" };
  }
  if (e.envFile !== undefined || e.env_vars !== undefined) {
    return { kind: "skip", reason: `it takes variables from the editor (${e.envFile !== undefined ? "envFile" : "env_vars"}), which a shared daemon cannot` };
  }
  if (e.cwd !== undefined && typeof e.cwd !== "string") return { kind: "skip", reason: "its cwd is not a string" };
  // VS Code's and Cursor's `${workspaceFolder}` is the session's project, which msm's host fills in as `{project}`;
  // any other `${…}` is the editor's to expand, per session, and a shared daemon cannot.
  const project = (t: string) => (projectVariable ? t.replaceAll(projectVariable, "{project}") : t);
  const command = project(e.command);
  const argv = (args as string[]).map(project);
  const vars = Object.fromEntries(Object.entries(env as Record<string, string>).map(([k, v]) => [k, project(v)]));
  const cwd = typeof e.cwd === "string" ? project(e.cwd) : undefined;
  const texts = [command, ...argv, ...Object.values(vars), ...(cwd !== undefined ? [cwd] : [])];
  if (texts.some((t) => /\$\{[^}]*\}/.test(t))) return { kind: "skip", reason: "it uses ${…} variables the editor expands per session" };
  // The editor pasted the folder into the script as it is; msm refuses that form (lib/placeholders.ts), and only
  // the person who wrote the script knows where the quoted one goes.
  if (shellPlaceholderProblem(command, argv)) {
    return { kind: "skip", reason: `it pastes ${projectVariable} into a shell script unquoted, where a folder name with a quote in it runs as commands; add it to config.json by hand (README: "{project:sh}")` };
  }
  const extra = extraKeys(e);
  const server = { command, args: argv, env: vars, ...(cwd !== undefined ? { cwd } : {}) };
  return { kind: "stdio", server, extra };
}

/** The client's entry for msm's proxy, with the original entry's non-launch keys kept (timeouts, tool filters). */
export function clientEntry(client: EditorClient, server: StdioEntry, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...client.entry(server), ...extra };
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}
