import { basename, isAbsolute, join } from "node:path";
import { msmHome, userHome } from "../lib/paths.ts";
import { shellPlaceholderProblem } from "../lib/placeholders.ts";
import { clearSecrets, secretNameFor } from "../lib/secrets/clear.ts";
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

/** What an msm entry runs: one target's proxy, or a profile's (several targets in one session, docs/profiles.md). */
export type ProxiedKind = "target" | "profile";
export interface Proxied {
  kind: ProxiedKind;
  name: string;
}

/** The stdio entry that runs `msm proxy --target NAME` (or `--profile NAME`). */
export function proxyEntry(how: Launcher, name: string, kind: ProxiedKind = "target"): StdioEntry {
  return { command: how.command, args: [...how.prefix, "proxy", `--${kind}`, name], env: { ...how.env } };
}

/** What an entry proxies, if it is msm's (`… proxy --target NAME` or `… proxy --profile NAME` run by an msm binary). */
export function msmEntryOf(entry: unknown): Proxied | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  const { command, args } = entry as { command?: unknown; args?: unknown };
  if (typeof command !== "string" || !Array.isArray(args)) return undefined;
  const at = args.findIndex((a, i) => a === "proxy" && (args[i + 1] === "--target" || args[i + 1] === "--profile") && typeof args[i + 2] === "string");
  if (at < 0) return undefined;
  const self = selfCommand()[0];
  const isMsm = /^msm(?:-[\w-]+)?(?:\.exe)?$/i.test(basename(command)) || command === self;
  return isMsm ? { kind: args[at + 1] === "--profile" ? "profile" : "target", name: args[at + 2] as string } : undefined;
}

/** Which target an entry proxies, if it is msm's entry for one target. */
export function msmTargetOf(entry: unknown): string | undefined {
  const proxied = msmEntryOf(entry);
  return proxied?.kind === "target" ? proxied.name : undefined;
}

/** Keys that describe how to start a stdio server; everything else in an entry (timeouts, tool filters) is carried. */
const LAUNCH_KEYS = new Set(["type", "command", "args", "env", "cwd", "envFile", "env_vars"]);

/** An entry's keys beyond how to start the server. */
export function extraKeys(entry: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entry).filter(([k]) => !LAUNCH_KEYS.has(k)));
}

/** A secret an editor's entry held in clear, to be stored in the keychain under `secret` (import never copies it). */
export interface Move {
  where: string;
  secret: string;
  /** Never printed. */
  value: string;
}

export interface ImportedServer {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  envFile?: string;
}

export type Classified =
  | { kind: "stdio"; server: ImportedServer; extra: Record<string, unknown>; moves: Move[] }
  | { kind: "remote" }
  | { kind: "skip"; reason: string };

export interface ClassifyOptions {
  /** The entry's name (the target's): keychain names of moved secrets start with it. */
  name?: string;
  /** The editor's own variables: VS Code and Cursor write `${env:NAME}` and `${userHome}`. */
  variables?: "vscode";
  /** Where a relative `envFile` is: the project folder for a project's file, the home folder for the user's. */
  baseDir?: string;
  /** true when a keychain can take secrets found in clear; otherwise why not (such entries are then not imported). */
  keychain?: true | string;
}

/** VS Code's predefined variables that name something of the editor's own, which msm has no value for. */
const EDITOR_ONLY =
  /^(workspaceFolderBasename|pathSeparator|\/|cwd|file\w*|relativeFile\w*|lineNumber|selectedText|execPath|defaultBuildTask|fileWorkspaceFolder)$/;

/**
 * Sorts an editor's entry for `import`: a stdio server msm can host, a URL server left alone, or why not. `${VAR}`
 * references and `envFile` are kept as references (msm resolves them where the server starts: docs/configuration.md);
 * a secret written in clear is moved to the keychain (`moves`) and replaced by `${secret:NAME}`, never copied.
 */
export function classify(entry: unknown, projectVariable?: string, options: ClassifyOptions = {}): Classified {
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
  if (e.envFile !== undefined && typeof e.envFile !== "string") return { kind: "skip", reason: "its envFile is not a string" };
  // Codex's `env_vars`: variables passed from the editor's environment by name, which msm's `${NAME}` does.
  const passed = e.env_vars ?? [];
  if (!Array.isArray(passed) || !passed.every((n) => typeof n === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) {
    return { kind: "skip", reason: "its env_vars are not all variable names" };
  }
  if (e.cwd !== undefined && typeof e.cwd !== "string") return { kind: "skip", reason: "its cwd is not a string" };
  // VS Code's and Cursor's `${workspaceFolder}` is the session's project, which msm's host calls `{project}`;
  // their `${env:NAME}` is msm's `${NAME}`.
  const convert = (t: string) => {
    let out = projectVariable ? t.replaceAll(projectVariable, "{project}") : t;
    if (options.variables === "vscode") out = out.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, "${$1}").replaceAll("${userHome}", "${HOME}");
    return out;
  };
  const command = convert(e.command);
  const argv = (args as string[]).map(convert);
  const vars = Object.fromEntries(Object.entries(env as Record<string, string>).map(([k, v]) => [k, convert(v)]));
  for (const name of passed as string[]) vars[name] ??= `\${${name}}`;
  const cwd = typeof e.cwd === "string" ? convert(e.cwd) : undefined;
  let envFile = typeof e.envFile === "string" ? convert(e.envFile) : undefined;
  if (envFile !== undefined && !isAbsolute(envFile) && !envFile.startsWith("{project}") && !envFile.startsWith("~") && options.baseDir) {
    envFile = join(options.baseDir, envFile);
  }
  const texts = [command, ...argv, ...Object.values(vars), ...(cwd !== undefined ? [cwd] : []), ...(envFile !== undefined ? [envFile] : [])];
  // What is left in `${…}` must be a reference msm resolves itself; anything else the editor fills in (an input it
  // prompts for, a variable of its own).
  for (const text of texts) {
    for (const [whole, inner] of text.matchAll(/\$\{([^}]*)\}/g)) {
      const reference = /^[A-Za-z_][A-Za-z0-9_]*(:-.*)?$/.test(inner!) && !(options.variables === "vscode" && EDITOR_ONLY.test(inner!));
      if (!reference) return { kind: "skip", reason: `it uses ${whole}, which the editor fills in itself and msm cannot` };
    }
  }
  // The editor pasted the folder into the script as it is; msm refuses that form (lib/placeholders.ts), and only
  // the person who wrote the script knows where the quoted one goes.
  if (shellPlaceholderProblem(command, argv)) {
    return {
      kind: "skip",
      reason: `it pastes ${projectVariable} into a shell script unquoted, where a folder name with a quote in it runs as commands; add it to config.json by hand (README: "{project:sh}")`,
    };
  }
  const server: ImportedServer = { command, args: argv, env: vars, ...(cwd !== undefined ? { cwd } : {}), ...(envFile !== undefined ? { envFile } : {}) };
  const found = clearSecrets(server);
  if (found.length && options.keychain !== true) {
    const where = found.map((f) => `${f.where}: ${f.why}`).join("; ");
    return {
      kind: "skip",
      reason:
        `it holds a secret in clear (${where}), which msm never copies into config.json, and no keychain can take it` +
        `${options.keychain ? ` (${options.keychain})` : ""}. Put it in an environment variable and write \${NAME} in its place, or in an envFile, then import again`,
    };
  }
  const moves = found.map((f) => ({ where: f.where, secret: secretNameFor(options.name ?? "server", f.where), value: f.value }));
  for (const move of moves) replaceSecret(server, move);
  return { kind: "stdio", server, extra: extraKeys(e), moves };
}

/** Puts `${secret:NAME}` where the clear value was (the whole string, or the part after `--token=`). */
function replaceSecret(server: ImportedServer, move: Move): void {
  const reference = `\${secret:${move.secret}}`;
  const swap = (text: string) => text.split(move.value).join(reference);
  const arg = /^args\[(\d+)\]$/.exec(move.where);
  if (arg) server.args[Number(arg[1])] = swap(server.args[Number(arg[1])]!);
  else if (move.where.startsWith("env.")) {
    const key = move.where.slice(4);
    server.env[key] = swap(server.env[key]!);
  } else if (move.where === "command") server.command = swap(server.command);
  else if (move.where === "cwd" && server.cwd !== undefined) server.cwd = swap(server.cwd);
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
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}
