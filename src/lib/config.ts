import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
// zod/mini, not "zod": the same schemas and issues at about half the resident memory, which matters in the proxy
// (started N×M times, every one of them parses config.json and lock files).
import * as z from "zod/mini";
import { TRANSPORTS } from "./contracts/lock-file.ts";
import { MsmError, errnoCode } from "./errors.ts";
import { paths } from "./paths.ts";
import { PROJECT_SH, mentionsProject, shellPlaceholderProblem } from "./placeholders.ts";
import { describeIssues } from "./config-issues.ts";
import { jsonPositions } from "./json-position.ts";
import { referenceProblem } from "./secrets/references.ts";
import { foreignReason } from "./trust.ts";
import { MAX_PATTERN_LENGTH, MAX_PATTERNS } from "./tool-rules.ts";
import { DEFAULT_SEPARATOR, MAX_PROFILE_TARGETS, PROFILE_MODES, PROFILE_NAME, SEPARATOR } from "./profiles.ts";

export const TransportSchema = z.enum(TRANSPORTS);
export type { Transport } from "./contracts/lock-file.ts";

const TARGET_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

export const PortSchema = z.number().check(z.int(), z.minimum(0), z.maximum(65535));

/** A target's `envFile` (see its uses below). */
const EnvFileSchema = z.optional(z.string().check(z.minLength(1)));

const MinutesSchema = z.optional(z.number().check(z.minimum(0)));
/**
 * `daemonIdleMinutes`: stop the target's daemon after this many minutes with no open connection and no request
 * (fractions allowed); absent or 0 = never (a hosted server's host: as its `childIdleMinutes`). The next session
 * starts it again, so this only trades a short start for memory.
 */
const DaemonIdleSchema = MinutesSchema;
/**
 * `idleMinutes`, the key before there were two: still accepted. On a hosted server it sets both `childIdleMinutes`
 * and `daemonIdleMinutes` (each where not set itself), elsewhere `daemonIdleMinutes`.
 */
const LegacyIdleSchema = MinutesSchema;

const PatternsSchema = z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(MAX_PATTERN_LENGTH))).check(z.maxLength(MAX_PATTERNS)));
/**
 * `tools`, `prompts`, `resources`: which of the server's tools, prompts and resources (by URI) reach the editor.
 * Glob patterns (`*` any run of characters, `?` one); a name must match one of `allow` when it is given, and none
 * of `deny` (deny wins). The proxy enforces them for every session (lib/tool-rules.ts, which reads the same shape
 * without zod); a project's `.claude/msm.json` can only hide more.
 */
export const RuleSetSchema = z.optional(z.strictObject({ allow: PatternsSchema, deny: PatternsSchema }));
const RULES = { tools: RuleSetSchema, prompts: RuleSetSchema, resources: RuleSetSchema };

/** The built-in memory server: only where it listens may change. */
export const BuiltinTargetSchema = z.strictObject({
  /** Preferred port; a busy port is not fatal, the daemon takes a free one and its lock file says which. */
  port: z.optional(PortSchema),
  daemonIdleMinutes: DaemonIdleSchema,
  idleMinutes: LegacyIdleSchema,
  /**
   * `postgres://user@host/db`: keep every project's graph in this PostgreSQL database (shared by a team's machines)
   * instead of per-project SQLite files. MSM_MEMORY_DATABASE_URL overrides it. Never printed with its password.
   */
  database: z.optional(z.string().check(z.regex(/^postgres(ql)?:\/\//))),
  ...RULES,
});

/** An external MCP server msm starts and shares; it must serve MCP over its own HTTP transport. */
export const ExternalTargetSchema = z.strictObject({
  /** Executable to run; `{port}` in args and env values is replaced by the port msm picked. */
  command: z.string().check(z.minLength(1)),
  args: z._default(z.array(z.string()), []),
  env: z._default(z.record(z.string(), z.string()), {}),
  /** Absolute working directory for the daemon. */
  cwd: z.optional(z.string()),
  /**
   * A file of `KEY=value` lines for the server's environment, which `${VAR}` references read too (docs/configuration.md,
   * "Secret references"); `~/…` or absolute, a relative path is relative to MSM_HOME. Yours, writable by nobody else.
   */
  envFile: EnvFileSchema,
  /** Required: it is what tells a server that serves HTTP itself from a stdio server msm hosts. */
  transport: TransportSchema,
  port: z.optional(PortSchema),
  /** URL path of the MCP endpoint (`/mcp` for streamable-http, `/sse` for legacy SSE). */
  path: z.optional(z.string().check(z.startsWith("/"))),
  daemonIdleMinutes: DaemonIdleSchema,
  idleMinutes: LegacyIdleSchema,
  /**
   * How msm decides the server is up: "http" = anything answers HTTP on the endpoint path (cheap, the default);
   * "mcp" = an MCP `initialize` succeeds there (the session is deleted right after).
   */
  health: z._default(z.enum(["http", "mcp"]), "http"),
  /**
   * How long the server may take to answer its first health check (fractions allowed; default 60): a first
   * `npx -y` / `uvx` run downloads before it serves. Sessions wait this long too.
   */
  startTimeoutSeconds: z.optional(z.number().check(z.positive())),
  /**
   * Answer sessions' `initialize` and list requests from the discovery cache, starting the server on the first real
   * call (default: true once the cache has an entry; false: always start it for a session).
   */
  lazy: z.optional(z.boolean()),
  ...RULES,
});

/** How many children a hosted server may run for sessions that would share one: a count, or "auto" (the cores). */
export const InstancesSchema = z.optional(z.union([z.number().check(z.int(), z.minimum(1), z.maximum(64)), z.literal("auto")]));

/** How many sessions share one child of a hosted stdio server. */
export const ShareSchema = z.enum(["project", "global", "session"]);
export type Share = z.infer<typeof ShareSchema>;

/**
 * A stdio MCP server msm hosts (a `command` without `transport`: the shape of an editor's `mcpServers` entry). A host
 * daemon owns its children and multiplexes every session onto them; `{project}` in args, env values and cwd is the
 * session's project folder, as it is: argv-only, for a value the program gets whole. Inside a `sh -c` script use
 * `{project:sh}`, the folder quoted for a POSIX shell; the plain form there is refused (lib/placeholders.ts).
 */
export const HostedTargetSchema = z.strictObject({
  command: z.string().check(z.minLength(1)),
  args: z._default(z.array(z.string()), []),
  env: z._default(z.record(z.string(), z.string()), {}),
  /** Working directory of a child; default the project folder ("project"/"session") or the home folder ("global"). */
  cwd: z.optional(z.string()),
  /**
   * A file of `KEY=value` lines for the server's environment, which `${VAR}` references read too (docs/configuration.md,
   * "Secret references"); `~/…` or absolute, a relative path is relative to MSM_HOME;
   * `{project}/.env` is the project's own file. Yours, writable by nobody else.
   */
  envFile: EnvFileSchema,
  /** "project": one child per project folder (default); "global": one for every session; "session": one per session. */
  share: z._default(ShareSchema, "project"),
  /** How long a session waits for a child's first start (npx/uvx may download for a while). */
  startTimeoutSeconds: z._default(z.number().check(z.positive()), 60),
  /** Stop a child this many minutes after its last session left; default 10 ("project"/"session"), never ("global"). */
  childIdleMinutes: MinutesSchema,
  daemonIdleMinutes: DaemonIdleSchema,
  idleMinutes: LegacyIdleSchema,
  /**
   * Up to this many children for sessions that would share one (same share key, version, capabilities, roots): a new
   * session goes to the one with the fewest sessions and stays there. "auto": as many as the machine has cores.
   * Default 1. Only for servers that keep no state across sessions (a pool splits what one child would have shared).
   */
  instances: InstancesSchema,
  /**
   * Answer sessions' `initialize` and list requests from the discovery cache, starting the server on the first real
   * call (default: true once the cache has an entry; false: always start it for a session).
   */
  lazy: z.optional(z.boolean()),
  ...RULES,
});

/**
 * A remote target's hand-registered OAuth client. "authorization_code" (default): a person logs in once in the
 * browser. "client_credentials" (a machine client, SEP-1046): msm obtains tokens itself, authenticating with the
 * secret (client_secret_basic) or with a JWT signed by the private key in `privateKeyFile` (private_key_jwt).
 */
export const OAuthClientSchema = z
  .strictObject({
    clientId: z.string().check(z.minLength(1)),
    clientSecret: z.optional(z.string()),
    grant: z._default(z.enum(["authorization_code", "client_credentials"]), "authorization_code"),
    /** PEM (PKCS#8) private key for private_key_jwt; a relative path is relative to MSM_HOME. */
    privateKeyFile: z.optional(z.string().check(z.minLength(1))),
    /** The JWT's signing algorithm (ES256, RS256, …); by default the one the key's type implies. */
    algorithm: z.optional(z.string().check(z.minLength(1))),
    /** Scope to ask for when neither the server's challenge nor its metadata names one. */
    scope: z.optional(z.string()),
  })
  .check(
    z.refine((o) => o.grant === "client_credentials" || o.privateKeyFile === undefined, {
      message: 'privateKeyFile is for "grant": "client_credentials" only',
      path: ["privateKeyFile"],
    }),
    z.refine((o) => o.grant !== "client_credentials" || o.clientSecret !== undefined || o.privateKeyFile !== undefined, {
      message: '"grant": "client_credentials" needs a clientSecret or a privateKeyFile',
      path: ["grant"],
    }),
  );

/**
 * A remote MCP server reached by URL (`"url": "https://…/mcp"`). msm runs one local relay per remote target: every
 * session goes through it, so the server sees one client, one OAuth login and one refresher however many sessions
 * are open. Never receives msm's bearer token or project paths.
 */
export const RemoteTargetSchema = z.strictObject({
  /** `http(s)://…`; it may start with a reference (`${MCP_URL}`), checked once resolved. */
  url: z.string().check(z.regex(/^(?:https?:\/\/|\$\{)[^\s]+$/, "an http(s) URL")),
  /** Extra request headers sent to the server (an API key, say); OAuth tokens come from `msm login NAME`. */
  headers: z._default(z.record(z.string(), z.string()), {}),
  /**
   * A file of `KEY=value` lines for the server's environment, which `${VAR}` references read too (docs/configuration.md,
   * "Secret references"); `~/…` or absolute, a relative path is relative to MSM_HOME. Yours, writable by nobody else.
   */
  envFile: EnvFileSchema,
  /** An OAuth client registered by hand, for servers that offer no dynamic client registration. */
  oauth: z.optional(OAuthClientSchema),
  /** Port of the local relay (any free one by default). */
  port: z.optional(PortSchema),
  daemonIdleMinutes: DaemonIdleSchema,
  idleMinutes: LegacyIdleSchema,
  /**
   * Answer sessions' `initialize` and list requests from the discovery cache, starting the server on the first real
   * call (default: true once the cache has an entry; false: always start it for a session).
   */
  lazy: z.optional(z.boolean()),
  ...RULES,
});

/**
 * A profile (docs/profiles.md): one editor entry, `msm proxy --profile NAME`, in front of several targets. The proxy
 * reads it with lib/profiles.ts (no zod); both accept the same entries.
 */
export const ProfileSchema = z.strictObject({
  /** The targets behind the profile, in order: the first one's answer wins where two give one (a resource's URI). */
  targets: z.array(z.string().check(z.regex(PROFILE_NAME))).check(z.minLength(1), z.maxLength(MAX_PROFILE_TARGETS)),
  /** "all": every target's tools, named `target__tool`; "search": find_tools and call_tool in front of them. */
  mode: z._default(z.enum(PROFILE_MODES), "all"),
  /** Between the target's name and a tool's or prompt's own name. */
  separator: z._default(z.string().check(z.regex(SEPARATOR)), DEFAULT_SEPARATOR),
  ...RULES,
});
export type ProfileEntry = z.infer<typeof ProfileSchema>;

/** The file's outer shape; each target is then checked against the schema its name calls for. */
export const SupervisorSchema = z._default(z.strictObject({ port: z._default(PortSchema, 3199) }), { port: 3199 });
export const ConfigSchema = z.strictObject({
  supervisor: SupervisorSchema,
  targets: z._default(z.record(z.string().check(z.regex(TARGET_NAME)), z.unknown()), {}),
  profiles: z._default(z.record(z.string().check(z.regex(PROFILE_NAME)), z.unknown()), {}),
});
export type ExternalTarget = z.infer<typeof ExternalTargetSchema>;
export type BuiltinTarget = z.infer<typeof BuiltinTargetSchema>;
export type HostedTarget = z.infer<typeof HostedTargetSchema>;
export type RemoteTarget = z.infer<typeof RemoteTargetSchema>;
export type Config = Omit<z.infer<typeof ConfigSchema>, "targets" | "profiles"> & {
  targets: Record<string, ExternalTarget | BuiltinTarget | HostedTarget | RemoteTarget>;
  /** Valid profiles by name (docs/profiles.md); a broken one is left out and reported in `brokenProfiles`. */
  profiles?: Record<string, ProfileEntry>;
  /** Profiles that failed validation, by name, with the message a person reads. */
  brokenProfiles?: Record<string, string>;
  /**
   * Entries that failed validation, by target name, with the message a person reads. One typo must not break the
   * other targets (least of all the built-in memory): a broken entry is left out of `targets` and reported here.
   */
  broken: Record<string, string>;
  /** The keys each broken entry had: what it meant to set (a broken memory entry naming a database stops memory). */
  brokenKeys?: Record<string, string[]>;
  /** What is wrong with the file as a whole (not JSON, unreadable, unknown top-level key); its valid parts still apply. */
  error?: string;
};

export const BUILTIN_TARGETS = ["memory"] as const;
const BUILTIN_KEYS = Object.keys(BuiltinTargetSchema.shape);
export const DEFAULT_MEMORY_PORT = 3100;
/** How long a target's daemon may take to pass its first health check unless `startTimeoutSeconds` says otherwise. */
export const DEFAULT_START_TIMEOUT_MS = 60_000;
/** Minutes a hosted child without sessions lives on ("project" and "session" share; "global" children stay). */
export const DEFAULT_CHILD_IDLE_MINUTES = 10;

/** What a target is, decided once from its name and the keys of its entry (see targetKind). */
export type TargetKind = "builtin" | "external" | "hosted" | "remote";

/** What every resolved target has. Idle stops are in milliseconds; 0 = never. */
interface Resolved {
  name: string;
  port: number;
  path: string;
  startTimeoutMs: number;
  /** Stop the daemon after this long with no open connection and no request (the supervisor does it). */
  daemonIdleMs: number;
}

/** A target after defaults: what a proxy or the supervisor acts on. */
export type ResolvedTarget =
  | (Resolved & {
      kind: "builtin";
      transport: "streamable-http";
      path: "/mcp";
      /** `postgres://…` from `targets.memory.database` (MSM_MEMORY_DATABASE_URL may still override it). */
      database: string | undefined;
      /**
       * The memory entry is broken and meant to set `database`: the daemon must refuse to start rather than quietly
       * put a team's writes in local SQLite files. The message says what is wrong.
       */
      databaseError: string | undefined;
    })
  | (Resolved & { kind: "external" } & Omit<ExternalTarget, "port" | "path" | "idleMinutes" | "daemonIdleMinutes" | "startTimeoutSeconds">)
  // A hosted target's host daemon starts at once; its `startTimeoutSeconds` is how long a session waits for a child.
  | (Resolved & {
      kind: "hosted";
      port: 0;
      transport: "streamable-http";
      path: "/mcp";
      /** Stop a child this long after its last session left (the host does it). */
      childIdleMs: number;
    } & Omit<HostedTarget, "idleMinutes" | "childIdleMinutes" | "daemonIdleMinutes">)
  | (Resolved & {
      kind: "remote";
      url: string;
      headers: Record<string, string>;
      envFile?: string;
      oauth?: RemoteTarget["oauth"];
      transport: "streamable-http";
      path: "/mcp";
    });

/**
 * What an entry is: a built-in name is built in; one with a `url` is a remote server; one with a `transport`
 * serves HTTP itself (external); any other is a stdio server msm hosts (the shape of an editor's entry).
 */
export function targetKind(name: string, entry: unknown): TargetKind {
  if ((BUILTIN_TARGETS as readonly string[]).includes(name)) return "builtin";
  const object = entry !== null && typeof entry === "object" && !Array.isArray(entry);
  if (object && "url" in entry) return "remote";
  return object && !("transport" in entry) ? "hosted" : "external";
}

const minutesToMs = (minutes: number | undefined): number => (minutes ?? 0) * 60_000;

/**
 * Reads config.json; an absent file means defaults. Never throws for bad content: what is wrong is reported in
 * `broken` (per target) and `error` (the file as a whole), and everything valid still applies.
 */
export function loadConfig(file = paths.config()): Config {
  let text: string;
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return readConfig("{}", file);
    return { ...readConfig("{}", file), error: `Cannot read ${file} (${errnoCode(error) ?? String(error)}).` };
  }
  try {
    // config.json runs commands: one another user wrote (or could rewrite) is theirs, not this user's. Checked on the
    // open descriptor, so what is read is what was checked (a symlink to the user's dotfiles is fine). Refused
    // outright (not a per-target problem): nothing in it may be trusted, not even a port.
    const problem = foreignReason(fstatSync(fd));
    if (problem) {
      const fix = problem.startsWith("is owned") ? `replace it with a file you own` : `run: chmod go-w ${file}`;
      throw new MsmError("CONFIG_UNSAFE", `${file} ${problem}; msm refuses it because its commands would run as you. To fix, ${fix}.`);
    }
    text = readFileSync(fd, "utf8");
  } catch (error) {
    if (error instanceof MsmError) throw error;
    return { ...readConfig("{}", file), error: `Cannot read ${file} (${errnoCode(error) ?? String(error)}).` };
  } finally {
    closeSync(fd);
  }
  return readConfig(text, file);
}

/** Strict parse for callers that want all or nothing: any problem is a CONFIG_INVALID error naming the keys. */
export function parseConfig(text: string, file = "config.json"): Config {
  const config = readConfig(text, file);
  const problems = configProblems(config);
  if (problems.length) throw new MsmError("CONFIG_INVALID", problems.join("\n"));
  return config;
}

/** Every problem of a loaded config, one message each (they name the key). */
export function configProblems(config: Config): string[] {
  return [config.error, ...Object.values(config.broken), ...Object.values(config.brokenProfiles ?? {})].filter((p): p is string => p !== undefined);
}

/** Lenient parse: each target is validated on its own, and what is wrong is recorded rather than thrown. */
export function readConfig(text: string, file = "config.json"): Config {
  const defaults: Config = { supervisor: { port: 3199 }, targets: {}, broken: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const at = jsonPositions(text).error;
    const where = at ? ` (line ${at.line}, column ${at.column})` : "";
    return { ...defaults, error: `${file} is not valid JSON: ${(error as Error).message}${where}. Fix it, or move it away to use the defaults.` };
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return { ...defaults, error: `${file} is invalid: (top level): expected object.` };
  const top = raw as Record<string, unknown>;
  const outer: string[] = [];
  let positions: ReturnType<typeof jsonPositions> | undefined;
  /** " (line N)" of the deepest part of `path` the file has, looked up only once something is wrong. */
  const lineOf = (path: readonly PropertyKey[], shortest = 1): string => {
    positions ??= jsonPositions(text);
    for (let n = path.length; n >= shortest; n--) {
      const line = positions.lineOf(path.slice(0, n));
      if (line !== undefined) return ` (line ${line})`;
    }
    return "";
  };
  const unknown = Object.keys(top).filter((k) => k !== "supervisor" && k !== "targets" && k !== "profiles");
  if (unknown.length) outer.push(`unknown key ${unknown.map((k) => `"${k}"`).join(", ")}${lineOf([unknown[0]!])}`);
  const supervisor = SupervisorSchema.safeParse(top.supervisor);
  if (!supervisor.success) {
    const issues = supervisor.error.issues.map((i) => ({ ...i, path: ["supervisor", ...i.path] }));
    outer.push(`${describeIssues(issues)}${lineOf(issues[0]?.path ?? ["supervisor"])}`);
  }
  const config: Config = { ...defaults, supervisor: supervisor.success ? supervisor.data : defaults.supervisor };
  const entries = top.targets === undefined ? {} : top.targets;
  if (!entries || typeof entries !== "object" || Array.isArray(entries)) outer.push(`targets: expected object${lineOf(["targets"])}`);
  else {
    for (const [name, value] of Object.entries(entries)) {
      const problem = targetProblem(name, value);
      if ("problem" in problem) {
        // The line of the key that is wrong, else of the deepest part of its path the file has (the entry at least).
        config.broken[name] = `${file} is invalid: ${problem.problem}${lineOf(problem.path, 2)}. See the README's config section for the format.`;
        if (value && typeof value === "object") (config.brokenKeys ??= {})[name] = Object.keys(value);
      } else config.targets[name] = problem.target;
    }
  }
  readProfiles(top.profiles, config, file, outer, lineOf);
  if (outer.length) config.error = `${file} is invalid: ${outer.join("; ")}. See the README's config section for the format.`;
  return config;
}

/** `profiles`, each checked on its own like a target: a broken profile is reported and the rest still apply. */
function readProfiles(
  value: unknown,
  config: Config,
  file: string,
  outer: string[],
  lineOf: (path: readonly PropertyKey[], shortest?: number) => string,
): void {
  if (value === undefined) return;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    outer.push(`profiles: expected object${lineOf(["profiles"])}`);
    return;
  }
  const known = [...targetNames(config), ...Object.keys(config.broken)];
  for (const [name, entry] of Object.entries(value)) {
    const checked = profileEntryProblem(name, entry, known);
    if ("problem" in checked)
      (config.brokenProfiles ??= {})[name] = `${file} is invalid: ${checked.problem}${lineOf(checked.path, 2)}. See docs/profiles.md for the format.`;
    else (config.profiles ??= {})[name] = checked.profile;
  }
}

/** One profile entry checked: the parsed profile, or what is wrong with it and the key path it is about. */
function profileEntryProblem(name: string, value: unknown, known: string[]): { profile: ProfileEntry } | { problem: string; path: PropertyKey[] } {
  const path = ["profiles", name];
  if (!PROFILE_NAME.test(name)) return { problem: `profiles.${name}: profile names use letters, digits, ".", "_" and "-"`, path };
  // The editor's entry is named after the profile, as the targets' entries are after them: one name, one entry.
  if (known.includes(name)) return { problem: `profiles.${name}: a target has this name too; editors' entries are named after both, so rename one`, path };
  const parsed = ProfileSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ ...issue, path: [...path, ...issue.path] }));
    return { problem: describeIssues(issues), path: issues[0]?.path ?? path };
  }
  const targets = [...path, "targets"];
  const twice = parsed.data.targets.find((t, i) => parsed.data.targets.indexOf(t) !== i);
  if (twice) return { problem: `profiles.${name}.targets: "${twice}" is named twice`, path: targets };
  const missing = parsed.data.targets.find((t) => !known.includes(t));
  if (missing) return { problem: `profiles.${name}.targets: no target is named "${missing}" (known: ${known.join(", ")})`, path: targets };
  return { profile: parsed.data };
}

/**
 * One target entry checked against the schema its name calls for: the parsed target, or what is wrong with it and
 * the key path it is about (for the line number).
 */
function targetProblem(
  name: string,
  value: unknown,
): { target: ExternalTarget | BuiltinTarget | HostedTarget | RemoteTarget } | { problem: string; path: PropertyKey[] } {
  const entry = ["targets", name];
  const checked = checkTarget(name, value);
  if (typeof checked !== "string") return checked;
  return { problem: checked, path: entry };
}

function checkTarget(
  name: string,
  value: unknown,
): { target: ExternalTarget | BuiltinTarget | HostedTarget | RemoteTarget } | { problem: string; path: PropertyKey[] } | string {
  if (!TARGET_NAME.test(name)) return `targets.${name}: target names use letters, digits, ".", "_" and "-"`;
  // Its lock, log and `msm restart supervisor` would be the supervisor's own.
  if (name === "supervisor") return `targets.supervisor: "supervisor" is msm's own name; call the target something else`;
  // Built-in names take only their few keys (BUILTIN_KEYS); other entries are checked against their kind's schema.
  const kind = targetKind(name, value);
  const builtin = kind === "builtin";
  const remote = kind === "remote";
  const hosted = kind === "hosted";
  if (hosted) {
    const portIssue = namesPort(value as Record<string, unknown>);
    if (portIssue) {
      return (
        `targets.${name} ${portIssue} but has no "transport". A server that serves HTTP itself needs ` +
        `"transport": "streamable-http" (or "sse", "http"); a stdio server msm hosts takes no port`
      );
    }
  }
  const extra = builtin && value && typeof value === "object" ? Object.keys(value).filter((k) => !BUILTIN_KEYS.includes(k)) : [];
  if (extra.length) {
    const keys = extra.map((k) => `"targets.${name}.${k}"`).join(", ");
    return {
      problem: `unknown key ${keys} (targets.${name} is built in; only ${BUILTIN_KEYS.map((k) => `"${k}"`).join(", ")} may be set)`,
      path: ["targets", name, extra[0]!],
    };
  }
  const parsed = (builtin ? BuiltinTargetSchema : remote ? RemoteTargetSchema : hosted ? HostedTargetSchema : ExternalTargetSchema).safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ ...issue, path: ["targets", name, ...issue.path] }));
    const first = issues[0];
    const path = first ? [...first.path, ...(first.code === "unrecognized_keys" && first.keys[0] !== undefined ? [first.keys[0]] : [])] : ["targets", name];
    return { problem: describeIssues(issues), path };
  }
  const references = referencesProblem(name, parsed.data);
  if (references) return references;
  if (!("share" in parsed.data) && "envFile" in parsed.data && parsed.data.envFile !== undefined && mentionsProject(parsed.data.envFile)) {
    return `targets.${name}.envFile: "{project}" is filled in only for stdio servers msm hosts; this one serves every project, so name one file`;
  }
  if ("share" in parsed.data && parsed.data.share === "global" && usesProject(parsed.data)) {
    return `targets.${name} uses "{project}" but "share" is "global" (one child for every project). Use "share": "project", or drop "{project}"`;
  }
  if ("share" in parsed.data) {
    const unsafe = shellPlaceholderProblem(parsed.data.command, parsed.data.args);
    if (unsafe) return `targets.${name}: ${unsafe}`;
    // A folder, not a shell word: quoted, it names no folder at all.
    if (parsed.data.cwd?.includes(PROJECT_SH))
      return `targets.${name}.cwd: "${PROJECT_SH}" is for shell scripts; a working directory takes the folder as it is, "{project}"`;
  }
  return { target: parsed.data };
}

/** What in a transport-less entry says it serves HTTP itself: a `port` key or `{port}` in args or env. */
function namesPort(entry: Record<string, unknown>): string | undefined {
  if ("port" in entry) return 'sets "port"';
  if ("path" in entry || "health" in entry) return `sets "${"path" in entry ? "path" : "health"}"`;
  const texts = [...(Array.isArray(entry.args) ? entry.args : []), ...(entry.env && typeof entry.env === "object" ? Object.values(entry.env) : [])];
  return texts.some((t) => typeof t === "string" && t.includes("{port}")) ? 'names "{port}"' : undefined;
}

function usesProject(entry: HostedTarget): boolean {
  return [...entry.args, ...Object.values(entry.env), entry.cwd ?? "", entry.envFile ?? ""].some(mentionsProject);
}

/** A reference msm cannot resolve as written (`${secret:…}` with a name no keychain entry can have), with its key. */
function referencesProblem(name: string, entry: ExternalTarget | BuiltinTarget | HostedTarget | RemoteTarget): string | undefined {
  const strings: [string, string | undefined][] = [];
  if ("command" in entry) strings.push(["command", entry.command], ["cwd", entry.cwd], ...entry.args.map((a, i): [string, string] => [`args[${i}]`, a]));
  if ("env" in entry) strings.push(...Object.entries(entry.env).map(([k, v]): [string, string] => [`env.${k}`, v]));
  if ("url" in entry) {
    strings.push(["url", entry.url], ["oauth.clientSecret", entry.oauth?.clientSecret]);
    strings.push(...Object.entries(entry.headers).map(([k, v]): [string, string] => [`headers.${k}`, v]));
  }
  for (const [key, text] of strings) {
    const problem = text === undefined ? undefined : referenceProblem(text);
    if (problem) return `targets.${name}.${key}: ${problem}`;
  }
  return undefined;
}

export function resolveTarget(config: Config, name: string): ResolvedTarget {
  const entry = config.targets[name];
  if (name === "memory") {
    // A broken memory entry is reported (status) but never stops memory: it runs on its defaults — unless it meant
    // to name a database.
    const memory = entry as BuiltinTarget | undefined;
    const broken = config.broken[name];
    return {
      name,
      kind: "builtin",
      port: memory?.port ?? DEFAULT_MEMORY_PORT,
      transport: "streamable-http",
      path: "/mcp",
      daemonIdleMs: minutesToMs(memory?.daemonIdleMinutes ?? memory?.idleMinutes),
      startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
      database: memory?.database,
      databaseError: broken !== undefined && config.brokenKeys?.[name]?.includes("database") ? broken : undefined,
    };
  }
  const broken = config.broken[name];
  if (broken !== undefined) throw new MsmError("CONFIG_INVALID", `Target "${name}" cannot start: ${broken}`);
  if (!entry) {
    // The file itself is broken: the target may well be in it, so say that rather than "unknown".
    if (config.error) throw new MsmError("CONFIG_INVALID", `Target "${name}" cannot start: ${config.error}`);
    const known = [...BUILTIN_TARGETS, ...Object.keys(config.targets).filter((k) => !BUILTIN_TARGETS.includes(k as "memory"))];
    throw new MsmError(
      "UNKNOWN_TARGET",
      `Unknown target "${name}". Known targets: ${known.join(", ")}. Add it under "targets" in ${paths.config()}, or remove the editor entry that runs "msm proxy --target ${name}" ("msm doctor" lists such entries).`,
    );
  }
  switch (targetKind(name, entry)) {
    case "remote": {
      const remote = entry as RemoteTarget;
      return {
        name,
        kind: "remote",
        url: remote.url,
        headers: remote.headers,
        envFile: remote.envFile,
        oauth: remote.oauth,
        port: remote.port ?? 0,
        transport: "streamable-http",
        path: "/mcp",
        daemonIdleMs: minutesToMs(remote.daemonIdleMinutes ?? remote.idleMinutes),
        startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
      };
    }
    case "hosted": {
      const { idleMinutes, childIdleMinutes, daemonIdleMinutes, ...rest } = entry as HostedTarget;
      // The old `idleMinutes` set both; each new key wins over it.
      const child = childIdleMinutes ?? idleMinutes ?? (rest.share === "global" ? 0 : DEFAULT_CHILD_IDLE_MINUTES);
      const daemon = daemonIdleMinutes ?? idleMinutes ?? (rest.share === "global" ? 0 : DEFAULT_CHILD_IDLE_MINUTES);
      return {
        ...rest,
        name,
        kind: "hosted",
        port: 0,
        transport: "streamable-http",
        path: "/mcp",
        childIdleMs: minutesToMs(child),
        daemonIdleMs: minutesToMs(daemon),
        startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
      };
    }
    default: {
      const { port, path, idleMinutes, daemonIdleMinutes, startTimeoutSeconds, ...rest } = entry as ExternalTarget;
      return {
        ...rest,
        name,
        kind: "external",
        port: port ?? 0,
        path: path ?? (rest.transport === "sse" ? "/sse" : "/mcp"),
        daemonIdleMs: minutesToMs(daemonIdleMinutes ?? idleMinutes),
        startTimeoutMs: startTimeoutSeconds !== undefined ? startTimeoutSeconds * 1000 : DEFAULT_START_TIMEOUT_MS,
      };
    }
  }
}

/** The built-in memory target, resolved: its port, idle stop and database. */
export function memoryTarget(config: Config): Extract<ResolvedTarget, { kind: "builtin" }> {
  return resolveTarget(config, "memory") as Extract<ResolvedTarget, { kind: "builtin" }>;
}

/** Every target the config knows, the built-in memory first. */
export function targetNames(config: Config): string[] {
  return [...BUILTIN_TARGETS, ...Object.keys(config.targets).filter((n) => !BUILTIN_TARGETS.includes(n as "memory"))];
}
