/**
 * `<name>.lock`: what a live daemon (or the supervisor) publishes about itself, read by every other msm process.
 * The field list lives here once. lib/lock.ts builds its zod schema from it (the supervisor, the CLI); the proxy's
 * schema-free fast read (proxy/index.ts liveLock: zod and the config cost a proxy ~4.5 MB) is tested against it
 * (tests/unit/lib/lock-file.test.ts). Plain data: loading this costs a proxy nothing.
 */

/** The wire transports a daemon may speak; a lock names one, a config entry too. */
export const TRANSPORTS = ["streamable-http", "sse", "http"] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** One field: its JSON type and limits, and whether a lock without it is invalid. */
export type LockField =
  | { type: "integer"; min: number; max?: number; required: boolean }
  | { type: "string"; oneOf?: readonly string[]; required: boolean }
  | { type: "boolean"; required: boolean };

export const LOCK_FIELDS = {
  pid: { type: "integer", min: 1, required: true },
  /** 0 while the owner has not bound its port yet. */
  port: { type: "integer", min: 0, max: 65535, required: true },
  transport: { type: "string", oneOf: TRANSPORTS, required: true },
  /** ISO time the owner started. */
  startedAt: { type: "string", required: true },
  version: { type: "string", required: true },
  /** URL path of the MCP endpoint, for daemons. */
  path: { type: "string", required: false },
  /** One of msm's own daemons (memory, a stdio host, a remote relay): clients must send the bearer token (see lock-auth.ts). */
  auth: { type: "string", oneOf: ["bearer"], required: false },
  /** Start time of `pid` (see proc.startTicks): a recycled pid running another program does not match. */
  pidStart: { type: "string", required: false },
  /** Stop the whole process group (external servers and whatever they spawned), not just `pid`. */
  group: { type: "boolean", required: false },
  /** Command line of `pid` (see proc.commandLine), recorded when the process wrote its own lock. */
  command: { type: "string", required: false },
  /** Which of msm's own daemons this is: a stdio host is the only one that is sent the editor session's environment. */
  kind: { type: "string", oneOf: ["memory", "host", "remote"], required: false },
  /**
   * Where the daemon also takes proxies on the line wire (contracts/wire.ts): `unix:<path>` or `tcp:<port>`. Absent:
   * HTTP only (a remote relay, an external server, an msm before the wire).
   */
  wire: { type: "string", required: false },
} as const satisfies Record<string, LockField>;

type Fields = typeof LOCK_FIELDS;
type ValueOf<F> = F extends { oneOf: readonly (infer V)[] } ? V : F extends { type: "integer" } ? number : F extends { type: "boolean" } ? boolean : string;
type Required = { [K in keyof Fields]: Fields[K]["required"] extends true ? K : never }[keyof Fields];
type Optional = Exclude<keyof Fields, Required>;

/** A lock file's content, as the table describes it. */
export type LockFile = { -readonly [K in Required]: ValueOf<Fields[K]> } & { -readonly [K in Optional]?: ValueOf<Fields[K]> };
