import { MsmError } from "./errors.ts";
import { acquireLock, isAlive, readLock, type LockInfo } from "./lock.ts";
import { ensureHome, paths } from "./paths.ts";
import { spawnDetached } from "./spawn.ts";
import type { ResolvedTarget, Transport } from "./config.ts";
import { VERSION } from "./version.ts";

/** How long a proxy waits for a daemon to become healthy before telling the editor it could not start. */
export const DAEMON_START_TIMEOUT_MS = 20_000;
const HEALTH_TIMEOUT_MS = 1_000;
const POLL_MS = 25;

export interface Endpoint {
  url: string;
  transport: Transport;
  pid: number;
}

export async function isHealthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function endpointOf(target: ResolvedTarget, lock: LockInfo): Endpoint {
  return { url: `http://127.0.0.1:${lock.port}${lock.path ?? target.path}`, transport: lock.transport, pid: lock.pid };
}

/** A daemon's lock names a live pid and a bound port that answers /health. */
async function liveEndpoint(target: ResolvedTarget): Promise<Endpoint | undefined> {
  const lock = readLock(target.name);
  if (lock && lock.port > 0 && (await isHealthy(lock.port))) return endpointOf(target, lock);
  return undefined;
}

/**
 * Returns the endpoint of the target's daemon, starting it if needed. Racing callers (twenty proxies opened at
 * once) serialize on an exclusive `<name>.starting` lock, so exactly one daemon is spawned; the others wait for
 * its lock file to name a healthy port.
 */
export async function ensureDaemon(
  target: ResolvedTarget,
  options: { timeoutMs?: number; spawnArgs?: string[] } = {},
): Promise<Endpoint> {
  const live = await liveEndpoint(target);
  if (live) return live;
  ensureHome();
  const deadline = Date.now() + (options.timeoutMs ?? DAEMON_START_TIMEOUT_MS);
  const args = options.spawnArgs ?? daemonArgs(target);
  while (Date.now() < deadline) {
    const taken = acquireLock(target.name, startLockInfo(), paths.startLock(target.name));
    if ("release" in taken) {
      try {
        return await startAndWait(target, args, deadline);
      } finally {
        taken.release();
      }
    }
    // Someone else is starting it: wait for their daemon, or for their start lock to go away.
    while (Date.now() < deadline && isAlive(taken.existing.pid)) {
      const endpoint = await liveEndpoint(target);
      if (endpoint) return endpoint;
      if (!readLock(target.name) && !startLockHeld(target.name)) break;
      await Bun.sleep(POLL_MS);
    }
    const endpoint = await liveEndpoint(target);
    if (endpoint) return endpoint;
  }
  throw new MsmError(
    "DAEMON_START_FAILED",
    `The "${target.name}" daemon did not become healthy within ${Math.round((options.timeoutMs ?? DAEMON_START_TIMEOUT_MS) / 1000)} s. ` +
      `See ${paths.log(target.name)}, or run "msm logs ${target.name}".`,
  );
}

function startLockHeld(name: string): boolean {
  const taken = acquireLock(name, startLockInfo(), paths.startLock(name));
  if ("release" in taken) {
    taken.release();
    return false;
  }
  return true;
}

function startLockInfo(): LockInfo {
  return { pid: process.pid, port: 0, transport: "http", startedAt: new Date().toISOString(), version: VERSION };
}

async function startAndWait(target: ResolvedTarget, args: string[], deadline: number): Promise<Endpoint> {
  // Re-check under the start lock: the previous holder may have finished between our first look and now.
  let lock = readLock(target.name);
  let pid = lock?.pid;
  if (!lock) pid = spawnDetached(target.name, args);
  while (Date.now() < deadline) {
    lock = readLock(target.name);
    if (lock && lock.port > 0 && (await isHealthy(lock.port))) return endpointOf(target, lock);
    if (pid !== undefined && !isAlive(pid) && !lock) {
      throw new MsmError(
        "DAEMON_START_FAILED",
        `The "${target.name}" daemon exited right after starting. See ${paths.log(target.name)}, or run "msm logs ${target.name}".`,
      );
    }
    await Bun.sleep(POLL_MS);
  }
  throw new MsmError(
    "DAEMON_START_FAILED",
    `The "${target.name}" daemon did not become healthy in time. See ${paths.log(target.name)}.`,
  );
}

/** The msm command line that runs a target's daemon. */
export function daemonArgs(target: ResolvedTarget): string[] {
  if (target.kind === "builtin") return [target.name, "--detached"];
  return ["daemon", target.name, "--detached"];
}
