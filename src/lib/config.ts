import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
// zod/mini, not "zod": the same schemas and issues at about half the resident memory, which matters in the proxy
// (started N×M times, every one of them parses config.json and lock files).
import * as z from "zod/mini";
import { MsmError, errnoCode } from "./errors.ts";
import { paths } from "./paths.ts";
import { foreignReason } from "./trust.ts";

export const TransportSchema = z.enum(["streamable-http", "sse", "http"]);
export type Transport = z.infer<typeof TransportSchema>;

export const PortSchema = z.number().check(z.int(), z.minimum(0), z.maximum(65535));

/**
 * Stop the daemon after this many minutes with no open connection and no request (fractions allowed); absent or 0
 * = never. The next session starts it again, so this only trades a short start for memory.
 */
const IdleMinutesSchema = z.optional(z.number().check(z.minimum(0)));

/** The built-in memory server: only where it listens may change. */
export const BuiltinTargetSchema = z.strictObject({
  /** Preferred port; a busy port is not fatal, the daemon takes a free one and its lock file says which. */
  port: z.optional(PortSchema),
  idleMinutes: IdleMinutesSchema,
  /**
   * `postgres://user@host/db`: keep every project's graph in this PostgreSQL database (shared by a team's machines)
   * instead of per-project SQLite files. MSM_MEMORY_DATABASE_URL overrides it. Never printed with its password.
   */
  database: z.optional(z.string().check(z.regex(/^postgres(ql)?:\/\//))),
});

/** An external MCP server msm starts and shares; it must serve MCP over its own HTTP transport. */
export const ExternalTargetSchema = z.strictObject({
  /** Executable to run; `{port}` in args and env values is replaced by the port msm picked. */
  command: z.string().check(z.minLength(1)),
  args: z._default(z.array(z.string()), []),
  env: z._default(z.record(z.string(), z.string()), {}),
  /** Absolute working directory for the daemon. */
  cwd: z.optional(z.string()),
  transport: z._default(TransportSchema, "streamable-http"),
  port: z.optional(PortSchema),
  /** URL path of the MCP endpoint (`/mcp` for streamable-http, `/sse` for legacy SSE). */
  path: z.optional(z.string().check(z.startsWith("/"))),
  idleMinutes: IdleMinutesSchema,
  /**
   * How msm decides the server is up: "http" = anything answers HTTP on the endpoint path (cheap, the default);
   * "mcp" = an MCP `initialize` succeeds there (the session is deleted right after).
   */
  health: z._default(z.enum(["http", "mcp"]), "http"),
});

/** The file's outer shape; each target is then checked against the schema its name calls for. */
export const ConfigSchema = z.strictObject({
  supervisor: z._default(z.strictObject({ port: z._default(PortSchema, 3199) }), { port: 3199 }),
  targets: z._default(z.record(z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]*$/i)), z.unknown()), {}),
});
export type ExternalTarget = z.infer<typeof ExternalTargetSchema>;
export type BuiltinTarget = z.infer<typeof BuiltinTargetSchema>;
export type Config = Omit<z.infer<typeof ConfigSchema>, "targets"> & { targets: Record<string, ExternalTarget | BuiltinTarget> };

export const BUILTIN_TARGETS = ["memory"] as const;
const BUILTIN_KEYS = Object.keys(BuiltinTargetSchema.shape);
export const DEFAULT_MEMORY_PORT = 3100;

/** A target after defaults: what a proxy or the supervisor acts on. */
export type ResolvedTarget =
  | { name: string; kind: "builtin"; port: number; transport: "streamable-http"; path: "/mcp"; idleMinutes: number }
  | ({ name: string; kind: "external"; port: number; path: string; idleMinutes: number } & Omit<ExternalTarget, "port" | "path" | "idleMinutes">);

/** Reads config.json; an absent file means defaults. Any other problem is a CONFIG_* error naming the key. */
export function loadConfig(file = paths.config()): Config {
  let text: string;
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return parseConfig("{}", file);
    throw new MsmError("CONFIG_UNREADABLE", `Cannot read ${file} (${errnoCode(error) ?? String(error)}).`, { cause: error });
  }
  try {
    // config.json runs commands: one another user wrote (or could rewrite) is theirs, not this user's. Checked on the
    // open descriptor, so what is read is what was checked (a symlink to the user's dotfiles is fine).
    const problem = foreignReason(fstatSync(fd));
    if (problem) {
      const fix = problem.startsWith("is owned") ? `replace it with a file you own` : `run: chmod go-w ${file}`;
      throw new MsmError("CONFIG_UNSAFE", `${file} ${problem}; msm refuses it because its commands would run as you. To fix, ${fix}.`);
    }
    text = readFileSync(fd, "utf8");
  } catch (error) {
    if (error instanceof MsmError) throw error;
    throw new MsmError("CONFIG_UNREADABLE", `Cannot read ${file} (${errnoCode(error) ?? String(error)}).`, { cause: error });
  } finally {
    closeSync(fd);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = "config.json"): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new MsmError(
      "CONFIG_INVALID",
      `${file} is not valid JSON: ${(error as Error).message}. Fix it, or move it away to use the defaults.`,
    );
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw invalid(file, parsed.error.issues);
  // Built-in names take only a port and idleMinutes; every other name is an external server and needs a command.
  const targets: Config["targets"] = {};
  const issues: z.core.$ZodIssue[] = [];
  for (const [name, value] of Object.entries(parsed.data.targets)) {
    const schema = (BUILTIN_TARGETS as readonly string[]).includes(name) ? BuiltinTargetSchema : ExternalTargetSchema;
    const extra = schema === BuiltinTargetSchema && value && typeof value === "object" ? Object.keys(value).filter((k) => !BUILTIN_KEYS.includes(k)) : [];
    if (extra.length) {
      const keys = extra.map((k) => `"targets.${name}.${k}"`).join(", ");
      throw new MsmError("CONFIG_INVALID", `${file} is invalid: unknown key ${keys} (targets.${name} is built in; only ${BUILTIN_KEYS.map((k) => `"${k}"`).join(", ")} may be set).`);
    }
    const target = schema.safeParse(value);
    if (target.success) targets[name] = target.data;
    else issues.push(...target.error.issues.map((issue) => ({ ...issue, path: ["targets", name, ...issue.path] })));
  }
  if (issues.length) throw invalid(file, issues);
  return { ...parsed.data, targets };
}

function invalid(file: string, issues: readonly z.core.$ZodIssue[]): MsmError {
  return new MsmError("CONFIG_INVALID", `${file} is invalid: ${describeIssues(issues)}. See the README's config section for the format.`);
}

export function resolveTarget(config: Config, name: string): ResolvedTarget {
  const entry = config.targets[name];
  if (name === "memory") {
    const port = entry && "port" in entry && entry.port !== undefined ? entry.port : DEFAULT_MEMORY_PORT;
    return { name, kind: "builtin", port, transport: "streamable-http", path: "/mcp", idleMinutes: entry?.idleMinutes ?? 0 };
  }
  if (!entry || !("command" in entry)) {
    const known = [...BUILTIN_TARGETS, ...Object.keys(config.targets).filter((k) => !BUILTIN_TARGETS.includes(k as "memory"))];
    throw new MsmError(
      "UNKNOWN_TARGET",
      `Unknown target "${name}". Known targets: ${known.join(", ")}. Add it under "targets" in ${paths.config()}.`,
    );
  }
  const { port, path, idleMinutes, ...rest } = entry;
  return { ...rest, name, kind: "external", port: port ?? 0, path: path ?? (entry.transport === "sse" ? "/sse" : "/mcp"), idleMinutes: idleMinutes ?? 0 };
}

/** Every target the config knows, the built-in memory first. */
export function targetNames(config: Config): string[] {
  return [...BUILTIN_TARGETS, ...Object.keys(config.targets).filter((n) => !BUILTIN_TARGETS.includes(n as "memory"))];
}

/** Plain-English issues naming the key (zod/mini ships no message locale; this is all a person needs). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (issue: z.core.$ZodIssue, base: PropertyKey[]) => {
    const path = [...base, ...issue.path];
    const key = path.length ? path.map(String).join(".") : "(top level)";
    let text: string;
    switch (issue.code) {
      case "unrecognized_keys":
        text = `unknown key ${issue.keys.map((k) => `"${path.length ? `${key}.` : ""}${k}"`).join(", ")}`;
        break;
      case "invalid_type":
        text = `${key}: expected ${issue.expected === "int" ? "a whole number" : issue.expected}`;
        break;
      case "too_small":
        text = issue.origin === "string" && Number(issue.minimum) === 1 ? `${key}: must not be empty` : `${key}: must be at least ${String(issue.minimum)}`;
        break;
      case "too_big":
        text = `${key}: must be at most ${String(issue.maximum)}`;
        break;
      case "invalid_value":
        text = `${key}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        break;
      case "invalid_format":
        text = key.endsWith(".database") ? `${key}: must be a postgres:// or postgresql:// URL` : key.startsWith("targets.") && issue.format === "regex" ? `${key}: target names use letters, digits, ".", "_" and "-"` : `${key}: must ${issue.format === "starts_with" ? `start with "${(issue as { prefix?: string }).prefix}"` : `match ${issue.format}`}`;
        break;
      case "invalid_key":
        for (const inner of issue.issues) visit(inner, path);
        return;
      default:
        text = `${key}: ${issue.message}`;
    }
    if (!seen.has(text)) {
      seen.add(text);
      out.push(text);
    }
  };
  for (const issue of issues) visit(issue, []);
  return out.join("; ");
}
