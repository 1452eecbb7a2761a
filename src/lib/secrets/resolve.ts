/**
 * Resolving a target's references where its process is started (docs/configuration.md, "Secret references"): a host
 * for each child, the supervisor for an external server, a remote relay for its URL and headers. Never the proxy.
 *
 * Whose environment: `${VAR}` is the value VAR has in the environment the server itself gets — the environment it
 * inherits (a project's or session's child: the session that started it; anything shared by every session: msm's
 * base set), then the target's envFile, then its `env`. A reference in an `env` value sees what comes before `env`.
 * Anything that cannot be resolved stops the start, and the error names every missing reference, never a value.
 */
import { baseEnv, withoutMsmMarkers } from "../base-env.ts";
import type { ResolvedTarget } from "../config.ts";
import { MsmError } from "../errors.ts";
import { secretName, tokenIn } from "./clear.ts";
import { readEnvFile } from "./envfile.ts";
import { describeReference, hasReferences, pieces, type Reference } from "./references.ts";

/** The strings a target takes: a process's (`command`, `args`, `env`, `cwd`) or a remote server's (`url`, `headers`, the OAuth client secret). */
export interface TargetStrings {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  headers?: Record<string, string>;
  clientSecret?: string;
}

export interface ResolveOptions {
  /** The target's name, for messages. */
  target: string;
  /** The environment the server inherits; `${VAR}` falls back to it. */
  inherited: Record<string, string | undefined>;
  /** Whose environment that is, for messages ("the environment of the session that started it"). */
  whose: string;
  /** It is msm's base set (a shared server's): a missing variable's message says where a secret goes instead. */
  base?: boolean;
  /** The target's envFile as configured. */
  envFile?: string;
  /** Placeholders filled in literal text (`{project}`, `{port}`), never in a resolved value. */
  literal?: (text: string) => string;
  /** Where `${secret:NAME}` is looked up; the OS keychain by default. */
  secret?: (name: string) => Promise<string | undefined>;
}

export interface Resolution<T extends TargetStrings> {
  /** The strings with every reference resolved (placeholders filled). */
  strings: T;
  /** The envFile's variables (empty without one): they go into the server's environment under `env`. */
  fileEnv: Record<string, string>;
  /** Masks the resolved values that are secrets in a line msm writes (a child's stderr, an error). */
  redact: (text: string) => string;
}

/** Why a target cannot start: each missing reference with where it was used. The message names no value. */
export class UnresolvedError extends MsmError {
  constructor(
    readonly target: string,
    readonly problems: string[],
    hint?: string,
  ) {
    super("SECRET_UNRESOLVED", `cannot start: ${problems.join("; ")}${hint ? `. ${hint}` : ""}`);
  }
}

/** Does this target have anything to resolve? The cheap test that keeps a target without references on its old path. */
export function needsResolving(strings: TargetStrings, envFile?: string): boolean {
  if (envFile !== undefined) return true;
  return everyString(strings).some(([, text]) => hasReferences(text));
}

/** Every string of a target with where it sits (`args[2]`, `env.TOKEN`, `headers.Authorization`). */
function everyString(strings: TargetStrings): [string, string][] {
  const out: [string, string][] = [];
  if (strings.command !== undefined) out.push(["command", strings.command]);
  for (const [i, a] of (strings.args ?? []).entries()) out.push([`args[${i}]`, a]);
  for (const [k, v] of Object.entries(strings.env ?? {})) out.push([`env.${k}`, v]);
  if (strings.cwd !== undefined) out.push(["cwd", strings.cwd]);
  if (strings.url !== undefined) out.push(["url", strings.url]);
  for (const [k, v] of Object.entries(strings.headers ?? {})) out.push([`headers.${k}`, v]);
  if (strings.clientSecret !== undefined) out.push(["oauth.clientSecret", strings.clientSecret]);
  return out;
}

/** Values shorter than this are not masked (a `1`, a `dev` would mask half a log line). */
const MIN_MASKED = 6;
const MASK = "[secret]";

/** Resolves every reference of `strings`; throws UnresolvedError naming each one that cannot be. */
export async function resolveStrings<T extends TargetStrings>(strings: T, options: ResolveOptions): Promise<Resolution<T>> {
  const literal = options.literal ?? ((t: string) => t);
  const problems: string[] = [];
  const masked = new Set<string>();
  const mask = (value: string | undefined) => {
    if (value !== undefined && value.length >= MIN_MASKED) masked.add(value);
  };

  let fileEnv: Record<string, string> = {};
  if (options.envFile !== undefined) {
    const read = readEnvFile(literal(options.envFile));
    if ("problem" in read) problems.push(read.problem);
    else fileEnv = read.vars;
    for (const [name, value] of Object.entries(fileEnv)) if (secretName(name) || tokenIn(value)) mask(value);
  }

  // Each keychain entry is read once, however often it is used.
  const all = everyString(strings);
  const secretNames = new Set<string>();
  for (const [, text] of all) for (const p of pieces(text)) if ("reference" in p && p.reference.kind === "secret") secretNames.add(p.reference.name);
  const secrets = new Map<string, string>();
  if (secretNames.size) {
    const lookup = options.secret ?? (await import("./keychain.ts")).getSecret;
    for (const name of secretNames) {
      try {
        const value = await lookup(name);
        if (value === undefined) problems.push(`\${secret:${name}} is not in the keychain (run: msm secret set ${name})`);
        else {
          secrets.set(name, value);
          if (value.length >= 4) masked.add(value);
        }
      } catch (error) {
        problems.push(`\${secret:${name}} cannot be read: ${(error as Error).message}`);
        break;
      }
    }
  }

  // Each missing variable once, with every place it is used.
  const missing = new Map<string, string[]>();
  const resolveIn = (where: string, text: string, view: (name: string) => string | undefined): string =>
    pieces(text)
      .map((p) => {
        if ("literal" in p) return literal(p.literal);
        const reference: Reference = p.reference;
        if (reference.kind === "secret") return secrets.get(reference.name) ?? "";
        const value = view(reference.name);
        // As a shell reads them: `${VAR:-default}` when VAR is unset or empty; `${VAR}` set to "" is "".
        if (reference.fallback !== undefined && !value) return reference.fallback;
        if (value !== undefined) {
          if (secretName(reference.name) || secretName(where.replace(/^\w+\./, "")) || tokenIn(value)) mask(value);
          return value;
        }
        const text = describeReference(reference);
        missing.set(text, [...(missing.get(text) ?? []), where]);
        return "";
      })
      .join("");

  // `env` first, from what comes before it (inherited, then envFile); everything else then sees `env` too.
  const before = (name: string) => fileEnv[name] ?? options.inherited[name];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(strings.env ?? {})) env[name] = resolveIn(`env.${name}`, value, before);
  const server = (name: string) => env[name] ?? before(name);
  const out = { ...strings } as T;
  if (strings.env !== undefined) out.env = env;
  if (strings.command !== undefined) out.command = resolveIn("command", strings.command, server);
  if (strings.args !== undefined) out.args = strings.args.map((a, i) => resolveIn(`args[${i}]`, a, server));
  if (strings.cwd !== undefined) out.cwd = resolveIn("cwd", strings.cwd, server);
  if (strings.url !== undefined) out.url = resolveIn("url", strings.url, server);
  if (strings.headers !== undefined) {
    out.headers = Object.fromEntries(Object.entries(strings.headers).map(([k, v]) => [k, resolveIn(`headers.${k}`, v, server)]));
  }
  if (strings.clientSecret !== undefined) out.clientSecret = resolveIn("oauth.clientSecret", strings.clientSecret, server);
  // A keychain value is a secret wherever it went.
  for (const value of secrets.values()) if (value.length >= 4) masked.add(value);

  const nor = options.envFile !== undefined ? " nor in its envFile" : "";
  for (const [text, wheres] of missing) problems.push(`${text} (in ${wheres.join(", ")}) is not set in ${options.whose}${nor}`);
  if (problems.length) {
    const hint =
      missing.size && options.base
        ? `A server every session shares sees msm's base environment, never a session's: keep the value in the keychain ` +
          `("msm secret set NAME", then write \${secret:NAME}) or in the target's envFile`
        : undefined;
    throw new UnresolvedError(options.target, problems, hint);
  }
  return { strings: out, fileEnv, redact: redactor([...masked]) };
}

/** Replaces each of `values` (longest first, so one inside another is caught whole) with a mask. */
export function redactor(values: string[]): (text: string) => string {
  const sorted = values.filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  if (!sorted.length) return (text) => text;
  return (text) => {
    let out = text;
    for (const value of sorted) if (out.includes(value)) out = out.replaceAll(value, MASK);
    return out;
  };
}

/**
 * A remote target's URL, headers and OAuth client secret resolved from msm's base set: what its relay runs with
 * (the supervisor checks the same before it starts one, so both agree). Throws UnresolvedError.
 */
export async function resolveRemoteStrings(target: Extract<ResolvedTarget, { kind: "remote" }>): Promise<Resolution<RemoteStrings>> {
  const strings: RemoteStrings = {
    url: target.url,
    headers: target.headers,
    ...(target.oauth?.clientSecret !== undefined ? { clientSecret: target.oauth.clientSecret } : {}),
  };
  if (!needsResolving(strings, target.envFile)) return { strings, fileEnv: {}, redact: (text) => text };
  const resolved = await resolveStrings(strings, {
    target: target.name,
    inherited: withoutMsmMarkers(baseEnv()),
    whose: "the supervisor's environment (msm's base set)",
    base: true,
    envFile: target.envFile,
  });
  if (!/^https?:\/\/\S+$/.test(resolved.strings.url)) throw new UnresolvedError(target.name, ["its url, once resolved, is not an http(s) URL"]);
  return resolved;
}

export type RemoteStrings = TargetStrings & { url: string; headers: Record<string, string> };
