/**
 * Daemons are started by re-executing msm (lib/spawn.ts) with a hidden command; this table is both sides of that
 * agreement. The supervisor builds a daemon's command line with daemonArgv(), and the commands in cli/commands/
 * declare their flags with DAEMON_ARGS and read them back with the parsers here, so a flag renamed on one side
 * cannot be missed on the other (tests/unit/lib/daemon-argv.test.ts runs every line through citty).
 */
import { MsmError } from "../errors.ts";

/** What to start: the kind of daemon and what it needs to know. */
export type DaemonSpec =
  | { kind: "supervisor"; port?: number }
  | { kind: "memory"; port: number }
  | { kind: "host"; target: string }
  | { kind: "remote"; name: string; port: number };

const detached = { type: "boolean", description: "Started by msm itself: log to the log file only", default: false } as const;

/** The flags of each daemon command (citty argument definitions; plain data, no citty needed here). */
export const DAEMON_ARGS = {
  supervisor: {
    port: { type: "string", description: "Manager API port (default: supervisor.port in config.json, else 3199)" },
    detached,
  },
  // The `memory` parent declares these too: citty looks for a subcommand name after skipping known flags, so
  // `msm memory --detached --port 3100` must not read "3100" as a subcommand.
  memory: {
    port: { type: "string", description: "Preferred port (default: targets.memory.port in config.json, else 3100; a busy port falls back to a free one)" },
    detached,
  },
  host: {
    target: { type: "string", description: "Target name in config.json", required: true },
    detached,
  },
  remote: {
    name: { type: "positional", description: "Remote target from config.json", required: true },
    port: { type: "string", description: "Preferred port (default: the target's port in config.json, else any free one)" },
    detached,
  },
} as const;

/** The arguments after msm's own path that start `spec` detached (as the supervisor or a proxy does). */
export function daemonArgv(spec: DaemonSpec): string[] {
  switch (spec.kind) {
    case "supervisor":
      return ["supervisor", "--detached", ...(spec.port === undefined ? [] : ["--port", String(spec.port)])];
    case "memory":
      return ["memory", "--detached", "--port", String(spec.port)];
    case "host":
      return ["host", "--target", spec.target, "--detached"];
    case "remote":
      return ["remote", spec.name, "--detached", "--port", String(spec.port)];
  }
}

/** A `--port` value: a whole number from 0 to 65535, else a usage error naming it. */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MsmError("USAGE", `--port must be a whole number from 0 to 65535, not "${text}"`);
  }
  return port;
}
