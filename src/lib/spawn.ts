import { closeSync, existsSync, openSync } from "node:fs";
import { resolve } from "node:path";
import { ensureHome, paths } from "./paths.ts";

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

/**
 * Starts `msm <args>` detached in its own session (setsid), stdin closed, stdout/stderr appended to the target's
 * log file, and not waited for: a Ctrl-C or a group kill aimed at the editor never reaches it, and it outlives us.
 */
export function spawnDetached(name: string, args: string[], env: Record<string, string | undefined> = process.env): number {
  ensureHome();
  const fd = openSync(paths.log(name), "a", 0o600);
  try {
    const child = Bun.spawn([...selfCommand(), ...args], {
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
      env: { ...env, MSM_DETACHED: "1" },
      detached: true,
    });
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}
