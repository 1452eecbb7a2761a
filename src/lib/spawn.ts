import { closeSync, existsSync, openSync } from "node:fs";
import { resolve } from "node:path";
import { baseEnv } from "./base-env.ts";
import { ensureHome, msmHome, paths } from "./paths.ts";
import { resolveCommand } from "./platform/index.ts";

/**
 * How to run this msm again: the compiled binary is `process.execPath` alone; from source it is bun plus the entry
 * script. Daemons are always this same program, so a proxy and the daemon it starts never disagree on versions.
 */
export function selfCommand(): string[] {
  const script = process.argv[1];
  if (script && !script.startsWith("/$bunfs/") && /\.(ts|js|mjs)$/.test(script) && existsSync(script)) {
    return [process.execPath, resolve(script)];
  }
  return [process.execPath];
}

export interface Spawned {
  pid: number;
  /** Resolves with the exit code (null when killed by a signal) — only while the spawner itself lives. */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** Program and arguments; default: this msm plus `args`. */
  command?: string[];
  /** Default: the base set of this process's environment (base-env.ts), never one editor session's whole environment. */
  env?: Record<string, string | undefined>;
  /** Working directory; default MSM_HOME, so a daemon never pins the project folder of the session that started it. */
  cwd?: string;
}

/**
 * Starts a process detached in its own session (setsid: it leads a new process group), stdin closed, stdout and
 * stderr appended to `logs/<name>.log`, and not waited for: a Ctrl-C or a group kill aimed at the editor never
 * reaches it, it outlives us, and stopping it later can signal its whole group. The log is opened O_APPEND, so the
 * supervisor can rotate it by copy-and-truncate while the daemon keeps its descriptor.
 */
export function spawnDetached(name: string, args: string[], options: SpawnOptions = {}): Spawned {
  ensureHome();
  const fd = openSync(paths.log(name), "a", 0o600);
  try {
    // A configured command is started directly, never through a shell (Windows: npx.cmd → node npx-cli.js).
    const child = Bun.spawn(options.command ? resolveCommand(options.command) : [...selfCommand(), ...args], {
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
      cwd: options.cwd ?? msmHome(),
      env: { ...(options.env ?? baseEnv()), MSM_DETACHED: "1" },
      detached: true,
    });
    child.unref();
    return { pid: child.pid, exited: child.exited.then(() => child.exitCode) };
  } finally {
    closeSync(fd);
  }
}
