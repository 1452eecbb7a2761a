import { msmEnv } from "../lib/env.ts";
import type { Log } from "./bridge.ts";
import { writeStderr } from "./stdio.ts";

/**
 * The proxy's logger: plain lines on stderr, debug lines only with MSM_DEBUG. Not consola (lib/log.ts), which costs a
 * proxy ~8 MB of resident memory and start time for colours and boxes nobody sees — and a proxy exists N×M times.
 */
export function createProxyLog(tag: string, debug = msmEnv().debug): Log & { error: (...args: unknown[]) => void } {
  const line = (level: string, args: unknown[]) => {
    const text = args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : safeJson(a))).join(" ");
    writeStderr(`[${tag}] ${level}${text}\n`);
  };
  return {
    debug: debug ? (...args) => line("debug: ", args) : () => {},
    info: (...args) => line("", args),
    warn: (...args) => line("warn: ", args),
    error: (...args) => line("error: ", args),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** stdout is the JSON-RPC wire: a dependency's console.log must land on stderr, never between two messages. */
export function consoleToStderr(log: ReturnType<typeof createProxyLog>): void {
  console.log = log.info;
  console.info = log.info;
  console.debug = log.debug;
  console.warn = log.warn;
  console.error = log.error;
}
