import { errnoCode } from "../errors.ts";

/** What Linux and macOS answer the same way: signals, and groups addressed as negative pids. */

/** kill(pid, 0): EPERM means it exists but belongs to someone else, so it is alive. */
export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

export function groupAlive(pgid: number): boolean {
  return exists(-pgid);
}

export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Runs a program and returns its stdout, or undefined when it failed or does not exist. */
export function output(argv: string[], env?: Record<string, string>): string | undefined {
  try {
    const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "ignore", env: env ? { ...process.env, ...env } : undefined });
    return result.exitCode === 0 ? result.stdout.toString() : undefined;
  } catch {
    return undefined;
  }
}
