/**
 * Every MSM_* environment variable msm reads, parsed here and nowhere else. Read when asked, not at load: the CLI
 * and the tests set some late (MSM_HOME is made absolute before any command runs). Plain code with no imports, so
 * the proxy loads it for free. A value that does not parse counts as unset (the default applies).
 *
 * | variable | what it does |
 * |---|---|
 * | MSM_HOME | the state directory (default `~/.mcp-session-manager`); a relative one is taken from the working directory |
 * | MSM_PROJECT_DIR | the session's project folder, before CLAUDE_PROJECT_DIR and the working directory (absolute) |
 * | MSM_MEMORY_DATABASE_URL | keep memory in this PostgreSQL database; wins over `targets.memory.database` |
 * | MSM_DEBUG | any value: debug lines in the logs |
 * | MSM_DETACHED | set by msm on every daemon it starts (and removed from a hosted server's environment) |
 * | MSM_DAEMON_TARGET | the target's entry in force, set by the supervisor on a daemon it starts; read and removed by contracts/daemon-argv.ts (takeDaemonTarget), the one exception: it must leave the environment before the daemon starts anything |
 * | MSM_BACKOFF_MS | waits between restarts after crashes in a row, comma-separated ms (default 1000,2000,4000,8000,16000) |
 * | MSM_EOF_GRACE_MS | how long a proxy's owed answers may take after stdin closes (default 30000) |
 * | MSM_LOGIN_WAIT_MS | how long a remote target's first session waits for a browser login (default 120000) |
 * | MSM_SESSION_IDLE_MS | a daemon closes a session idle this long (default 600000) |
 * | MSM_SESSION_QUEUE_BYTES | a hosted server's per-session output queue (default: the 16 MiB message limit) |
 * | MSM_DISCOVERY | `live`: a proxy never answers from the discovery cache, only fills it (`msm refresh` sets it) |
 * | MSM_WIRE | `http`: a proxy speaks HTTP to msm's daemons even where they offer the line wire (comparisons, diagnosis) |
 *
 * Build and install variables (MSM_VERSION for build.ts, MSM_INSTALL_DIR and MSM_INSTALL_BASE_URL for the install
 * scripts) are not read by msm itself.
 */

type Vars = Record<string, string | undefined>;

export interface MsmEnv {
  home: string | undefined;
  projectDir: string | undefined;
  memoryDatabaseUrl: string | undefined;
  debug: boolean;
  detached: boolean;
  backoffMs: number[] | undefined;
  eofGraceMs: number | undefined;
  loginWaitMs: number | undefined;
  sessionIdleMs: number | undefined;
  sessionQueueBytes: number | undefined;
  /** The proxy asks the server even when the discovery cache could answer. */
  discoveryLive: boolean;
  /** `http`: proxies keep to HTTP (no line wire). */
  wire: "http" | undefined;
}

/** A non-empty (after trimming) value, untrimmed. */
const text = (value: string | undefined): string | undefined => (value !== undefined && value.trim() !== "" ? value : undefined);

/** A finite number, when the variable is set. */
function number(value: string | undefined, valid: (n: number) => boolean = () => true): number | undefined {
  if (text(value) === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && valid(n) ? n : undefined;
}

function steps(value: string | undefined): number[] | undefined {
  if (text(value) === undefined) return undefined;
  const list = value!.split(",").map(Number);
  return list.every((n) => Number.isFinite(n) && n >= 0) ? list : undefined;
}

/** The variables of `vars` (process.env by default), parsed. */
export function readEnv(vars: Vars = process.env): MsmEnv {
  return {
    home: text(vars.MSM_HOME),
    projectDir: text(vars.MSM_PROJECT_DIR),
    memoryDatabaseUrl: text(vars.MSM_MEMORY_DATABASE_URL)?.trim(),
    debug: Boolean(vars.MSM_DEBUG),
    discoveryLive: text(vars.MSM_DISCOVERY)?.trim() === "live",
    wire: text(vars.MSM_WIRE)?.trim() === "http" ? "http" : undefined,
    detached: vars.MSM_DETACHED === "1",
    backoffMs: steps(vars.MSM_BACKOFF_MS),
    eofGraceMs: number(vars.MSM_EOF_GRACE_MS),
    loginWaitMs: number(vars.MSM_LOGIN_WAIT_MS),
    sessionIdleMs: number(vars.MSM_SESSION_IDLE_MS, (n) => n > 0),
    sessionQueueBytes: number(vars.MSM_SESSION_QUEUE_BYTES, (n) => n > 0),
  };
}

/** This process's variables, parsed now. */
export const msmEnv = (): MsmEnv => readEnv(process.env);
