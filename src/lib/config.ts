import { readFileSync } from "node:fs";
import { z } from "zod";
import { MsmError, errnoCode } from "./errors.ts";
import { paths } from "./paths.ts";

export const TransportSchema = z.enum(["streamable-http", "sse", "http"]);
export type Transport = z.infer<typeof TransportSchema>;

const PortSchema = z.number().int().min(0).max(65535);

/**
 * Stop the daemon after this many minutes with no open connection and no request (fractions allowed); absent or 0
 * = never. The next session starts it again, so this only trades a short start for memory.
 */
const IdleMinutesSchema = z.number().min(0).optional();

/** The built-in memory server: only where it listens may change. */
export const BuiltinTargetSchema = z.strictObject({
  /** Preferred port; a busy port is not fatal, the daemon takes a free one and its lock file says which. */
  port: PortSchema.optional(),
  idleMinutes: IdleMinutesSchema,
});

/** An external MCP server msm starts and shares; it must serve MCP over its own HTTP transport. */
export const ExternalTargetSchema = z.strictObject({
  /** Executable to run; `{port}` in args and env values is replaced by the port msm picked. */
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  /** Absolute working directory for the daemon. */
  cwd: z.string().optional(),
  transport: TransportSchema.default("streamable-http"),
  port: PortSchema.optional(),
  /** URL path of the MCP endpoint (`/mcp` for streamable-http, `/sse` for legacy SSE). */
  path: z.string().startsWith("/").optional(),
  idleMinutes: IdleMinutesSchema,
  /**
   * How msm decides the server is up: "http" = anything answers HTTP on the endpoint path (cheap, the default);
   * "mcp" = an MCP `initialize` succeeds there (the session is deleted right after).
   */
  health: z.enum(["http", "mcp"]).default("http"),
});

export const TargetSchema = z.union([ExternalTargetSchema, BuiltinTargetSchema]);

export const ConfigSchema = z.strictObject({
  supervisor: z.strictObject({ port: PortSchema.default(3199) }).default({ port: 3199 }),
  targets: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, "target names use letters, digits, . _ -"), TargetSchema).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ExternalTarget = z.infer<typeof ExternalTargetSchema>;

export const BUILTIN_TARGETS = ["memory"] as const;
export const DEFAULT_MEMORY_PORT = 3100;

/** A target after defaults: what a proxy or the supervisor acts on. */
export type ResolvedTarget =
  | { name: string; kind: "builtin"; port: number; transport: "streamable-http"; path: "/mcp"; idleMinutes: number }
  | ({ name: string; kind: "external"; port: number; path: string; idleMinutes: number } & Omit<ExternalTarget, "port" | "path" | "idleMinutes">);

/** Reads config.json; an absent file means defaults. Any other problem is a CONFIG_* error naming the key. */
export function loadConfig(file = paths.config()): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return ConfigSchema.parse({});
    throw new MsmError("CONFIG_UNREADABLE", `Cannot read ${file} (${errnoCode(error) ?? String(error)}).`, { cause: error });
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
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.length ? issue.path.join(".") : "(top level)";
      if (issue.code === "unrecognized_keys") {
        const where = issue.path.length ? `${key}.` : "";
        return `unknown key ${issue.keys.map((k) => `"${where}${k}"`).join(", ")}`;
      }
      return `${key}: ${issue.message}`;
    });
    throw new MsmError("CONFIG_INVALID", `${file} is invalid: ${problems.join("; ")}. See "msm generate-config --help" for the format.`);
  }
  for (const name of BUILTIN_TARGETS) {
    const target = parsed.data.targets[name];
    if (target && "command" in target) {
      throw new MsmError("CONFIG_INVALID", `${file} is invalid: targets.${name} is built in; only "port" and "idleMinutes" may be set.`);
    }
  }
  return parsed.data;
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
