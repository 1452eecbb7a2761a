import { createLogger, captureConsole } from "../lib/log.ts";
import { MsmError } from "../lib/errors.ts";
import type { Transport } from "../lib/config.ts";
import { readLines } from "./lines.ts";
import { Bridge, type BridgeOptions, type Log } from "./bridge.ts";
import { parseLine, type JsonRpcMessage } from "./jsonrpc.ts";
import { SseBridge } from "./legacy-sse.ts";
import { resolveProject } from "./project.ts";
import { StreamableBridge } from "./streamable.ts";
import { parseHeaders, type Connect, type Upstream } from "./upstream.ts";

/** How long answers still owed to the editor may take after stdin closes (MSM_EOF_GRACE_MS overrides). */
export const EOF_GRACE_MS = 5_000;
/** SIGTERM/SIGHUP: the editor will SIGKILL 400 ms later (Claude Code), so the proxy is gone well before that. */
export const SIGNAL_EXIT_MS = 250;
/** Part of SIGNAL_EXIT_MS spent trying to DELETE the session. */
export const SIGNAL_DELETE_MS = 150;

export const PROJECT_HEADER = "mcp-project-path";

export interface ProxyOptions {
  /** A target from config.json (or the built-in "memory"); not needed with `url`. */
  target?: string;
  /** Any MCP HTTP server, no config needed. */
  url?: string;
  transport?: Transport;
  /** Extra request headers, curl syntax ("Name: value"). */
  headers?: string[];
  project?: string;
  input?: AsyncIterable<Uint8Array | string>;
  /** stdout is the wire: this is the only function in msm that writes to it. */
  output?: (line: string) => void;
  fetch?: typeof fetch;
  /** Finds the target's daemon, starting it if needed (lib/ensure.ts by default). */
  ensure?: (target: import("../lib/config.ts").ResolvedTarget) => Promise<{ url: string; transport: Transport; pid: number }>;
  eofGraceMs?: number;
  /** Install SIGTERM/SIGHUP handlers (the CLI does; in-process tests do not). */
  signals?: boolean;
  log?: Log;
}

export function createBridge(transport: Transport, options: BridgeOptions): Bridge {
  if (transport === "sse") return new SseBridge(options);
  return new StreamableBridge(options, transport === "http");
}

/** Where to connect and how to find the server again after it went away. */
async function upstreamOf(options: ProxyOptions, project: string): Promise<{ transport: Transport; connect: Connect }> {
  const extra = parseHeaders(options.headers ?? []);
  if (options.url) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new MsmError("USAGE", `--url "${options.url}" is not a URL.`);
    }
    const upstream: Upstream = { url: url.href, transport: options.transport ?? "streamable-http", headers: { [PROJECT_HEADER]: project, ...extra } };
    return { transport: upstream.transport, connect: async () => upstream };
  }
  if (!options.target) throw new MsmError("USAGE", 'msm proxy needs --target NAME or --url URL. Run "msm proxy --help" for usage.');
  const { loadConfig, resolveTarget } = await import("../lib/config.ts");
  const target = resolveTarget(loadConfig(), options.target);
  const headers: Record<string, string> = { [PROJECT_HEADER]: project, ...extra };
  if (target.kind === "builtin") {
    const { loadToken } = await import("../lib/token.ts");
    headers.authorization = `Bearer ${loadToken()}`;
  }
  const ensure = options.ensure ?? (await import("../lib/ensure.ts")).ensureDaemon;
  const transport = options.transport ?? target.transport;
  return {
    transport,
    connect: async () => {
      const endpoint = await ensure(target);
      return { url: endpoint.url, transport: endpoint.transport, headers };
    },
  };
}

/** Runs one session: stdin lines to the server, server messages to stdout. Resolves with the exit code at EOF. */
export async function runProxy(options: ProxyOptions): Promise<number> {
  const log = options.log ?? createLogger({ tag: `proxy ${options.target ?? options.url}` });
  if (!options.log) captureConsole(log as ReturnType<typeof createLogger>);
  const output = options.output ?? ((line: string) => void process.stdout.write(line));
  const write = (message: JsonRpcMessage) => output(JSON.stringify(message) + "\n");

  const project = resolveProject(options.project);
  const { transport, connect } = await upstreamOf(options, project);
  const bridge = createBridge(transport, { connect, write, log, fetch: options.fetch });
  log.debug(`session for ${project} (${transport})`);

  if (options.signals) {
    const stop = (code: number) => {
      // Whatever happens, be gone before the editor's SIGKILL: the DELETE is a courtesy with a short leash.
      setTimeout(() => process.exit(code), SIGNAL_EXIT_MS).unref?.();
      void bridge.close({ graceMs: 0, deleteTimeoutMs: SIGNAL_DELETE_MS }).finally(() => process.exit(code));
    };
    process.on("SIGTERM", () => stop(143));
    process.on("SIGHUP", () => stop(129));
  }

  for await (const line of readLines(options.input ?? process.stdin)) {
    if (line.trim() === "") continue;
    const { messages, errors } = parseLine(line);
    for (const error of errors) write(error);
    for (const message of messages) bridge.send(message);
  }
  const envGrace = Number(process.env.MSM_EOF_GRACE_MS);
  const graceMs = options.eofGraceMs ?? (Number.isFinite(envGrace) && process.env.MSM_EOF_GRACE_MS !== "" ? envGrace : EOF_GRACE_MS);
  await bridge.close({ graceMs });
  return 0;
}

/** Resolves once everything written to stdout has been handed to the OS. */
export function flushStdout(): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.writableNeedDrain) process.stdout.once("drain", () => resolve());
    else process.stdout.write("", () => resolve());
  });
}
