import { MsmError, isMsmError } from "./errors.ts";
import { loadConfig, resolveTarget } from "./config.ts";
import { readLock, type LockInfo } from "./lock.ts";
import { callSupervisor, type Endpoint } from "./contracts/supervisor-api.ts";
import { ensureSupervisor, findSupervisor, SUPERVISOR_START_TIMEOUT_MS, supervisorLockAlive } from "./manager.ts";
import { paths } from "./paths.ts";
import { probe } from "./probe.ts";
import type { ResolvedTarget } from "./config.ts";

export { isHealthy } from "./probe.ts";

/** Pause before asking again when the supervisor vanished mid-request (it was killed, or is being replaced). */
const RETRY_MS = 100;

export type { Endpoint } from "./contracts/supervisor-api.ts";

export function endpointOf(
  target: ResolvedTarget,
  lock: Pick<LockInfo, "pid" | "port" | "path" | "transport"> & { version?: string; wire?: string },
): Endpoint {
  return {
    url: `http://127.0.0.1:${lock.port}${lock.path ?? target.path}`,
    transport: lock.transport,
    pid: lock.pid,
    version: lock.version,
    ...(lock.wire ? { wire: lock.wire } : {}),
  };
}

/** A daemon's lock names a live pid and a bound port that passes the target's health check. */
async function liveEndpoint(target: ResolvedTarget): Promise<Endpoint | undefined> {
  const lock = readLock(target.name);
  if (lock && lock.port > 0 && (await probe(target, lock))) return endpointOf(target, lock);
  return undefined;
}

/**
 * Returns a healthy endpoint of the target's daemon. Fast path: its lock names a live, healthy daemon — go straight
 * to it. Otherwise the supervisor (started on demand) is asked to ensure it: the supervisor is the only process that
 * spawns daemons, so twenty proxies racing here still get one daemon. Throws MsmError saying what to run next.
 * A session waits as long as the target may take to start (`startTimeoutSeconds`), plus a supervisor start.
 * `passive` (a session's event stream reconnecting) never starts anything: with no daemon and no supervisor
 * running, or a daemon stopped on purpose, it fails with NOT_RUNNING and the session's next request starts it.
 */
export async function ensureDaemon(target: ResolvedTarget, options: { timeoutMs?: number; passive?: boolean } = {}): Promise<Endpoint> {
  const timeoutMs = options.timeoutMs ?? target.startTimeoutMs + SUPERVISOR_START_TIMEOUT_MS;
  const live = await liveEndpoint(target);
  if (live) {
    // Daemons outlive a crashed supervisor; the next session brings it back so crashes are watched again.
    if (!supervisorLockAlive()) void ensureSupervisor().catch(() => {});
    return live;
  }
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const manager = options.passive ? await findSupervisor() : await ensureSupervisor(deadline);
    if (!manager) throw new MsmError("NOT_RUNNING", `The "${target.name}" daemon is not running; the next request starts it.`);
    const remaining = Math.max(1, deadline - Date.now());
    try {
      return await callSupervisor(manager, "ensure", { name: target.name, timeoutMs: Math.max(1, remaining - 500), passive: options.passive }, remaining);
    } catch (error) {
      if (!isMsmError(error) || error.code !== "SUPERVISOR_UNREACHABLE") throw error;
      lastError = error;
      await Bun.sleep(RETRY_MS);
    }
  }
  throw new MsmError(
    "DAEMON_START_FAILED",
    `The "${target.name}" daemon did not become healthy within ${Math.round(timeoutMs / 1000)} s` +
      `${lastError ? ` (${(lastError as Error).message})` : ""}. See ${paths.log(target.name)}, or run "msm logs ${target.name}".`,
  );
}

/**
 * The target a session is for, as config.json has it now; when the file or the target's entry is broken, as the
 * running supervisor has it in force — the last good entry, which it goes on serving (docs/configuration.md, "Edits
 * apply live"). Anything else wrong (an unknown name) is the file's own error.
 */
export async function sessionTarget(name: string): Promise<ResolvedTarget> {
  try {
    return resolveTarget(loadConfig(), name);
  } catch (error) {
    if (!isMsmError(error) || (error.code !== "CONFIG_INVALID" && error.code !== "CONFIG_UNSAFE")) throw error;
    const manager = await findSupervisor().catch(() => undefined);
    if (!manager) throw error;
    try {
      return (await callSupervisor(manager, "target", { name }, SUPERVISOR_START_TIMEOUT_MS)).target;
    } catch {
      throw error;
    }
  }
}
