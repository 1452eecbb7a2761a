import { msmEnv } from "../lib/env.ts";
import { MsmError } from "../lib/errors.ts";
import type { Transport } from "../lib/config.ts";
import { readFileSync } from "node:fs";
import { paths } from "../lib/paths.ts";
import { encodeProjectHeader, PROJECT_HEADER } from "../lib/http/headers.ts";
import { wantsToken } from "../lib/lock-auth.ts";
import { stdinIsTerminal } from "../lib/platform/tty.ts";
import { processMatches } from "../lib/proc.ts";
import { skewNote } from "../lib/skew.ts";
import { loadToken } from "../lib/token.ts";
import { MAX_MESSAGE_BYTES, readLines, type Line } from "../lib/jsonrpc/lines.ts";
import { type Bridge, errorText, type BridgeOptions, type ConnectReason, type Log, type RawLine } from "./bridge.ts";
import { errorResponse, INVALID_REQUEST, PARSE_ERROR, parseLine, UPSTREAM_ERROR, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { SseBridge } from "./legacy-sse.ts";
import { consoleToStderr, createProxyLog } from "./log.ts";
import { resolveProject } from "./project.ts";
import { sessionRules } from "./rules.ts";

export { resolveProject } from "./project.ts";
import { flushStdout as flushStdoutSink, stdinChunks, stdoutRoom, whenStdoutBroken, writeStderr, writeStdout, writeStdoutBytes } from "./stdio.ts";
import { StreamableBridge } from "./streamable.ts";
import { WireBridge } from "./wire.ts";
import { parseWireAddress } from "../lib/contracts/wire.ts";
import { DiscoverySession, type Session } from "./discovery.ts";
import { cacheSummary } from "../lib/discovery-cache.ts";
import { rawProfileEntry, rawTargetEntry } from "../lib/raw-config.ts";
import { parseHeaders, type Upstream } from "./upstream.ts";

/**
 * How long answers still owed to the editor may take after stdin closes (MSM_EOF_GRACE_MS overrides). A client that
 * writes its last request and closes stdin (a script, a pipe) still wants the answer; as long as the bridge's own
 * recovery bound, so a request waiting for a restarting daemon is answered by the bridge, not cut off here.
 */
export const EOF_GRACE_MS = 30_000;
/** How long the exit waits for stdout to take the last answers (an editor that stopped reading must not hold us). */
export const FLUSH_TIMEOUT_MS = 10_000;
/** SIGTERM/SIGHUP: the editor will SIGKILL 400 ms later (Claude Code), so the proxy is gone well before that. */
export const SIGNAL_EXIT_MS = 250;
/** Part of SIGNAL_EXIT_MS spent trying to DELETE the session. */
export const SIGNAL_DELETE_MS = 150;

/** Quiet time after which the proxy runs a full garbage collection. */
export const IDLE_GC_MS = 1_000;

export interface ProxyOptions {
  /** A target from config.json (or the built-in "memory"); not needed with `url`. */
  target?: string;
  /** A profile from config.json: one session in front of several targets (docs/profiles.md). */
  profile?: string;
  /** Any MCP HTTP server, no config needed. */
  url?: string;
  transport?: Transport;
  /** Extra request headers, curl syntax ("Name: value"). */
  headers?: string[];
  project?: string;
  /** Send the project header to a `--url` server that is not on this machine too (it names a local folder). */
  sendProject?: boolean;
  input?: AsyncIterable<Uint8Array | string>;
  /** stdout is the wire: this is the only function in msm that writes to it. */
  output?: (line: string) => void;
  fetch?: typeof fetch;
  /** Finds the target's daemon, starting it if needed (lib/ensure.ts by default). */
  ensure?: (
    target: import("../lib/config.ts").ResolvedTarget,
    options?: { passive?: boolean },
  ) => Promise<{ url: string; transport: Transport; pid: number; version?: string; wire?: string }>;
  eofGraceMs?: number;
  /** Install SIGTERM/SIGHUP handlers (the CLI does; in-process tests do not). */
  signals?: boolean;
  log?: Log;
}

export function createBridge(transport: Transport, options: BridgeOptions): Bridge {
  if (transport === "sse") return new SseBridge(options);
  if (transport === "http") return new StreamableBridge(options, true);
  // The line wire to a daemon that offers it (its lock says where), streamable HTTP to anything else.
  return new WireBridge(options);
}

/** Where to connect and how to find the server again after it went away. */
async function upstreamOf(
  options: ProxyOptions,
  project: string | undefined,
  log: Log,
): Promise<{ transport: Transport; connect: (reason?: ConnectReason) => Promise<Upstream> }> {
  const extra = parseHeaders(options.headers ?? []);
  const projectHeader: Record<string, string> = project === undefined ? {} : { [PROJECT_HEADER]: encodeProjectHeader(project) };
  if (options.url) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new MsmError("USAGE", `--url "${options.url}" is not a URL.`);
    }
    // The project header names a folder on this machine, which a remote server has no business knowing.
    const send = options.sendProject || isLoopbackHost(url.hostname);
    const upstream: Upstream = { url: url.href, transport: options.transport ?? "streamable-http", headers: { ...(send ? projectHeader : {}), ...extra } };
    return { transport: upstream.transport, connect: async () => upstream };
  }
  if (!options.target) throw new MsmError("USAGE", 'msm proxy needs --target NAME or --url URL. Run "msm proxy --help" for usage.');
  const name = options.target;
  const headers: Record<string, string> = { ...projectHeader, ...extra };
  // msm's own daemons (memory, stdio hosts, remote relays) demand the bearer token; external targets are their own
  // servers and must never see it. A memory daemon older than its lock's `auth` field is known by its name.
  let token: string | undefined;
  const authorize = () => {
    token ??= loadToken();
    headers.authorization = `Bearer ${token}`;
  };
  // The line wire (proxy/wire.ts) to msm's own daemons that offer it; MSM_WIRE=http keeps a session on HTTP.
  const onHttp = msmEnv().wire === "http";
  const wireOf = (where: string | undefined, own: boolean): Upstream["wire"] => {
    const address = own && !onHttp ? parseWireAddress(where) : undefined;
    if (!address) return undefined;
    authorize();
    return { address, token: token!, ...(project === undefined ? {} : { project }) };
  };
  if (name === "memory") authorize();
  // After an upgrade the daemon may still be the old binary: never silent about it (once per version seen).
  let reported: string | undefined;
  const noteVersion = (version: string | undefined, pid: number | undefined) => {
    if (version === reported) return;
    reported = version;
    const skew = skewNote(`the ${name} daemon${pid ? ` (pid ${pid})` : ""}`, version);
    if (skew) log.warn(skew);
  };
  // `reason` "stream": only the event stream wants to reopen, which never starts a daemon stopped on purpose.
  const ensure = async (reason: ConnectReason): Promise<Upstream> => {
    // The supervisor's last good entry when config.json is broken now (lib/ensure.ts sessionTarget).
    const { ensureDaemon: ensureOwn, sessionTarget } = await import("../lib/ensure.ts");
    const target = await sessionTarget(name);
    if (target.kind !== "external") authorize();
    const ensureDaemon = options.ensure ?? ensureOwn;
    const endpoint = await ensureDaemon(target, { passive: reason === "stream" });
    noteVersion(endpoint.version, endpoint.pid);
    const own = target.kind !== "external";
    return {
      url: endpoint.url,
      transport: options.transport ?? endpoint.transport,
      headers,
      ownDaemon: own,
      freshConnections: !own,
      sessionEnv: target.kind === "hosted",
      wire: wireOf(endpoint.wire, own && target.kind !== "remote"),
    };
  };
  // Fast path for the common case, a daemon already running: its lock file names the port. Anything wrong with
  // that (stale lock, unhealthy daemon) shows as a refused connection or a 404, and recovery calls ensure().
  // The supervisor must be alive too: it is what restarts the daemon if it crashes, and ensure() brings it back.
  let lock = options.ensure || !pidFileAlive("supervisor") ? undefined : liveLock(name);
  if (lock?.auth === "bearer") authorize();
  let transport = options.transport ?? lock?.transport;
  if (!transport) transport = (await (await import("../lib/ensure.ts")).sessionTarget(name)).transport;
  return {
    transport,
    connect: async (reason = "request") => {
      const known = lock;
      lock = undefined;
      if (known) {
        noteVersion(known.version, known.pid);
        const own = name === "memory" || known.auth === "bearer";
        return {
          url: `http://127.0.0.1:${known.port}${known.path}`,
          transport: known.transport,
          headers,
          ownDaemon: own,
          freshConnections: !own,
          sessionEnv: known.kind === "host",
          wire: wireOf(known.wire, own),
        };
      }
      return ensure(reason);
    },
  };
}

/** 127.0.0.0/8, ::1 and localhost: a server on this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A daemon's lock file read without its zod schema: loading zod, the config and the start machinery costs a proxy
 * ~4.5 MB of memory and milliseconds of start on every session, while a live daemon only needs its port read.
 * The pid must still be the process that wrote the lock (start time, command line): a recycled pid next to a
 * foreign server on the old port must never be sent the bearer token. Anything unexpected → undefined, and the
 * caller takes the full ensureDaemon() path.
 */
export function liveLock(
  name: string,
): { pid: number; port: number; path: string; transport: Transport; version?: string; auth?: "bearer"; kind?: string; wire?: string } | undefined {
  const lock = readOwnLock(name);
  if (!lock || typeof lock.pid !== "number" || typeof lock.port !== "number" || lock.port <= 0 || typeof lock.path !== "string") return undefined;
  if (!TRANSPORTS.includes(lock.transport as Transport)) return undefined;
  const version = typeof lock.version === "string" ? lock.version : undefined;
  const kind = typeof lock.kind === "string" ? lock.kind : undefined;
  return {
    pid: lock.pid,
    port: lock.port,
    path: lock.path,
    transport: lock.transport as Transport,
    version,
    kind,
    ...(typeof lock.wire === "string" ? { wire: lock.wire } : {}),
    ...(wantsToken(lock) ? { auth: "bearer" as const } : {}),
  };
}

const TRANSPORTS: Transport[] = ["streamable-http", "sse", "http"];

/** `<name>.lock` when the process it names is the one that wrote it; same schema-free read as liveLock. */
function readOwnLock(name: string): Record<string, unknown> | undefined {
  try {
    const lock = JSON.parse(readFileSync(paths.lock(name), "utf8")) as Record<string, unknown>;
    if (typeof lock.pid !== "number") return undefined;
    const record = {
      pid: lock.pid,
      pidStart: typeof lock.pidStart === "string" ? lock.pidStart : undefined,
      command: typeof lock.command === "string" ? lock.command : undefined,
    };
    return processMatches(record) ? lock : undefined;
  } catch {
    return undefined;
  }
}

/** Does `<name>.lock` name the running process that wrote it? */
function pidFileAlive(name: string): boolean {
  return readOwnLock(name) !== undefined;
}

/** Runs one session: stdin lines to the server, server messages to stdout. Resolves with the exit code at EOF. */
export async function runProxy(options: ProxyOptions): Promise<number> {
  let log = options.log;
  if (!log) {
    const own = createProxyLog(options.profile ? `proxy profile ${options.profile}` : `proxy ${options.target ?? options.url}`);
    consoleToStderr(own);
    log = own;
  }
  const output = options.output ?? writeStdout;
  const write = (message: JsonRpcMessage, raw?: RawLine) => {
    if (raw !== undefined && typeof raw !== "string") {
      // A large answer's bytes, as the daemon sent them: to stdout as they are.
      if (options.output) options.output(`${new TextDecoder().decode(Buffer.concat(raw.parts))}\n`);
      else writeStdoutBytes(raw.parts);
      return;
    }
    let line = raw;
    if (line === undefined) {
      try {
        line = JSON.stringify(message);
      } catch (error) {
        // A server message JSON.stringify cannot write (nesting too deep): the editor still gets an answer.
        log.warn(`could not pass on a server message: ${errorText(error)}`);
        if (message.method !== undefined || message.id === undefined || message.id === null) return;
        line = JSON.stringify(errorResponse(message.id, UPSTREAM_ERROR, `msm: the MCP server's answer could not be passed on (${errorText(error)})`));
      }
    }
    output(line + "\n");
  };

  const project = resolveProject(options.project);
  // Tool rules (docs/configuration.md): outermost, around the session's send (editor → server) and write (server →
  // editor), so cached answers are filtered like live ones. A profile applies each target's rules to that target.
  const rules = sessionRules(options.profile ? undefined : options.target, project, log);
  const toEditor = (message: JsonRpcMessage, raw?: RawLine) => {
    const shown = rules.toEditor(message);
    if (shown) write(shown, shown === message ? raw : undefined);
  };
  const session: Session = options.profile
    ? await profileSession(options, options.profile, project, toEditor, log)
    : await targetSession(options, project, toEditor, log);

  if (options.signals) {
    // Crash-proof: a bug in one message's path must not take the editor's whole session down with it.
    process.on("unhandledRejection", (error) => log.warn(`unexpected: ${errorText(error)}`));
    process.on("uncaughtException", (error) => log.warn(`unexpected: ${errorText(error)}`));
    const stop = (code: number) => {
      // Whatever happens, be gone before the editor's SIGKILL: the DELETE is a courtesy with a short leash.
      setTimeout(() => process.exit(code), SIGNAL_EXIT_MS).unref?.();
      void session.close({ graceMs: 0, deleteTimeoutMs: SIGNAL_DELETE_MS }).finally(() => process.exit(code));
    };
    process.on("SIGTERM", () => stop(143));
    process.on("SIGHUP", () => stop(129));
    // Nobody reads the answers any more (Claude Code's reconnect can leave an old proxy's stdin open): end it.
    whenStdoutBroken(() => stop(0));
  }

  // A proxy idles most of its life; a full collection once traffic pauses hands the heap that bursts of messages
  // grew back to the OS, so N×M idle proxies stay small.
  let idleTimer: Timer | undefined;
  const collectWhenIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => Bun.gc(true), IDLE_GC_MS);
    idleTimer.unref?.();
  };

  const input = options.input ?? stdinChunks();
  // Someone ran `msm proxy` in a terminal: it is waiting for an editor's JSON-RPC, not hanging.
  if (!options.input && stdinIsTerminal()) {
    writeStderr(
      `msm proxy: waiting for MCP JSON-RPC messages on stdin, one per line (${project}).\n` +
        `This is the command an editor runs (see "msm generate-config"); Ctrl-D or Ctrl-C ends it.\n`,
    );
  }
  for await (const line of readLines(input)) {
    collectWhenIdle();
    if ("problem" in line) {
      const { code, text } = unreadable(line);
      log.warn(`${text} (id ${JSON.stringify(line.id)})`);
      write(errorResponse(line.id, code, text));
      continue;
    }
    if (line.text.trim() === "") continue;
    const { messages, errors, raw } = parseLine(line.text);
    for (const error of errors) write(error);
    for (const message of messages) {
      const refused = rules.fromEditor(message); // a request for something a tool rule hides is answered here
      if (refused) write(refused);
      else session.send(message, raw);
    }
  }
  const graceMs = options.eofGraceMs ?? msmEnv().eofGraceMs ?? EOF_GRACE_MS;
  await session.close({ graceMs });
  return 0;
}

/**
 * The session of one target (or `--url` server): its bridge, behind the discovery cache for a configured target. What
 * the server says goes to `write`. Rejects when the target cannot even be looked for (its config entry broken).
 */
async function targetSession(options: ProxyOptions, project: string | undefined, write: BridgeOptions["write"], log: Log): Promise<Session> {
  const open = async (deliver: BridgeOptions["write"], extra: Partial<BridgeOptions> = {}) => {
    const { transport, connect } = await upstreamOf(options, project, log);
    log.debug(`session for ${project ?? "no project"} (${transport})`);
    return createBridge(transport, { connect, write: deliver, log, fetch: options.fetch, room: options.output ? undefined : () => stdoutRoom(), ...extra });
  };
  const discovery = discoverySession(options, project, open, write, log);
  // No cache entry of this target can answer: connect at once, while the editor is still writing its initialize.
  if (discovery && (!discovery.answerFromCache || cacheSummary(options.target!).entries === 0)) await discovery.session.connect();
  return discovery?.session ?? (await open(write));
}

/**
 * `--profile NAME`: the profile's code (proxy/profile.ts, loaded only here) in front of one targetSession() per
 * target. A profile that cannot be read is an error that says what is wrong, before any session starts.
 */
async function profileSession(options: ProxyOptions, name: string, project: string | undefined, write: BridgeOptions["write"], log: Log): Promise<Session> {
  if (options.target || options.url) throw new MsmError("USAGE", "msm proxy takes one of --profile, --target and --url.");
  const { readProfile } = await import("../lib/profiles.ts");
  const entry = rawProfileEntry(name);
  const profile = entry === undefined ? undefined : readProfile(name, entry);
  if (!profile || "problem" in profile) {
    // The validating loader says exactly what is wrong (an unreadable file, a bad key); only this path pays for it.
    const { loadConfig } = await import("../lib/config.ts");
    const config = loadConfig();
    const problem = config.brokenProfiles?.[name] ?? (profile && "problem" in profile ? profile.problem : config.error);
    const known = Object.keys(config.profiles ?? {});
    throw new MsmError(
      "UNKNOWN_PROFILE",
      problem ??
        `Unknown profile "${name}". ${known.length ? `Profiles: ${known.join(", ")}.` : "No profile is configured."} Add it under "profiles" in ${paths.config()} (docs/profiles.md).`,
    );
  }
  const { openProfile } = await import("./profile.ts");
  return openProfile({
    profile,
    configFile: paths.config(),
    project,
    write,
    log,
    openTarget: (target, deliver, targetLog) => targetSession({ ...options, profile: undefined, target }, project, deliver, targetLog),
  });
}

/**
 * A configured target's session goes through the discovery cache (docs/hosted.md "Servers cost nothing until
 * used"); the built-in memory server (one daemon for every project, nothing to save) and `--url` sessions do not.
 */
function discoverySession(
  options: ProxyOptions,
  project: string | undefined,
  open: (toEditor: BridgeOptions["write"], extra?: Partial<BridgeOptions>) => Promise<Bridge>,
  write: BridgeOptions["write"],
  log: Log,
): { session: DiscoverySession; answerFromCache: boolean } | undefined {
  const name = options.target;
  if (!name || options.url || name === "memory") return undefined;
  const entry = rawTargetEntry(name);
  if (!entry || (typeof entry.command !== "string" && typeof entry.url !== "string")) return undefined;
  const answerFromCache = entry.lazy !== false && !msmEnv().discoveryLive;
  const session = new DiscoverySession({
    target: name,
    entry,
    project,
    answerFromCache,
    secret: loadToken,
    openBridge: (toEditor, extra) => open(toEditor, extra),
    write,
    log,
  });
  return { session, answerFromCache };
}

/** The error answer for a line the proxy could not read: too large (-32600) or not UTF-8 (-32700). */
function unreadable(line: Extract<Line, { problem: string }>): { code: number; text: string } {
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (line.problem === "invalid-utf8") return { code: PARSE_ERROR, text: "Parse error: the message is not valid UTF-8" };
  return { code: INVALID_REQUEST, text: `Invalid Request: message too large (${mib(line.bytes)}; msm accepts up to ${mib(MAX_MESSAGE_BYTES)}), discarded` };
}

/** Resolves once everything written to stdout has been handed to the OS, or after `timeoutMs`. */
export function flushStdout(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
  return flushStdoutSink(timeoutMs);
}
