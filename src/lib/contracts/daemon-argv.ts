/**
 * Daemons are started by re-executing msm (lib/spawn.ts) with a hidden command; this table is both sides of that
 * agreement. The supervisor builds a daemon's command line with daemonArgv(), and the commands in cli/commands/
 * declare their flags with DAEMON_ARGS and read them back with the parsers here, so a flag renamed on one side
 * cannot be missed on the other (tests/unit/lib/daemon-argv.test.ts runs every line through citty).
 */
import type { ResolvedTarget } from "../config.ts";
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

/**
 * How the supervisor hands a daemon it starts the target as the supervisor has it in force (JSON of the resolved
 * target): the last good entry while config.json is broken, so a daemon restarted then runs what was running, not
 * what a broken file says (memory quietly on local SQLite instead of a team's database). A daemon started by hand
 * has none and reads config.json.
 */
export const DAEMON_TARGET_ENV = "MSM_DAEMON_TARGET";

export function daemonTargetEnv(target: ResolvedTarget): Record<string, string> {
  return { [DAEMON_TARGET_ENV]: JSON.stringify(target) };
}

/**
 * The target the supervisor handed this daemon (undefined: none, or not for `name`), taken out of the environment
 * so nothing the daemon starts inherits it.
 */
export function takeDaemonTarget(name: string): ResolvedTarget | undefined {
  const text = process.env[DAEMON_TARGET_ENV];
  delete process.env[DAEMON_TARGET_ENV];
  if (!text) return undefined;
  try {
    const target = JSON.parse(text) as ResolvedTarget;
    return target && typeof target === "object" && target.name === name && typeof target.kind === "string" ? target : undefined;
  } catch {
    return undefined;
  }
}
