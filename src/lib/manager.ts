import type { Manager } from "./contracts/supervisor-api.ts";
import { daemonArgv } from "./contracts/daemon-argv.ts";
import { MsmError } from "./errors.ts";
import { acquireLock, isAlive, ownerAlive, readLock, releaseIfOwned, type LockInfo } from "./lock.ts";
import { commandLine, signal } from "./proc.ts";
import { ensureHome, paths } from "./paths.ts";
import { isHealthy } from "./probe.ts";
import { spawnDetached } from "./spawn.ts";
import { loadToken } from "./token.ts";
import { VERSION } from "./version.ts";

/** The supervisor's lock, start lock and log are named like a target's. */
export const SUPERVISOR = "supervisor";
/** How long a caller waits for a freshly spawned supervisor to answer /health. */
export const SUPERVISOR_START_TIMEOUT_MS = 10_000;
const POLL_MS = 25;
/**
 * A supervisor whose process lives but that leaves /health unanswered this long is frozen (SIGSTOP, a deadlock):
 * the next caller that needs it kills it and starts another. Well above any pause a busy machine causes.
 */
export const SUPERVISOR_HANG_MS = 5_000;

export type { Manager } from "./contracts/supervisor-api.ts";

/** The supervisor named by supervisor.lock, if it is alive and answering; no network when there is no live lock. */
export async function findSupervisor(): Promise<Manager | undefined> {
  const lock = readLock(SUPERVISOR);
  if (!lock || lock.port <= 0 || !(await isHealthy(lock.port))) return undefined;
  return { pid: lock.pid, port: lock.port, token: loadToken() };
}

/** Cheap check (one file read, no network) for the proxy's fast path. */
export function supervisorLockAlive(): boolean {
  return readLock(SUPERVISOR) !== undefined;
}

/**
 * Returns the running supervisor, starting one if needed. Racing callers serialize on `supervisor.starting` (exclusive
 * create), so twenty proxies opened at once spawn one supervisor; the rest wait for its lock to name a healthy port.
 * A supervisor that loses a race anyway finds supervisor.lock taken and exits at once.
 */
export async function ensureSupervisor(deadline = Date.now() + SUPERVISOR_START_TIMEOUT_MS): Promise<Manager> {
  ensureHome();
  while (Date.now() < deadline) {
    const found = await findSupervisor();
    if (found) return found;
    const taken = acquireLock(SUPERVISOR, startLockInfo(), paths.startLock(SUPERVISOR));
    if ("release" in taken) {
      try {
        return await spawnAndWait(deadline);
      } finally {
        taken.release();
      }
    }
    // Someone else is starting it: wait for their supervisor, or for their start lock to go away.
    while (Date.now() < deadline && isAlive(taken.existing.pid)) {
      const manager = await findSupervisor();
      if (manager) return manager;
      await Bun.sleep(POLL_MS);
    }
  }
  throw new MsmError(
    "SUPERVISOR_UNREACHABLE",
    `The msm supervisor did not start. See ${paths.log(SUPERVISOR)}, or run "msm supervisor" in a terminal to see why.`,
  );
}

function startLockInfo(): LockInfo {
  return { pid: process.pid, port: 0, transport: "http", startedAt: new Date().toISOString(), version: VERSION };
}

async function spawnAndWait(deadline: number): Promise<Manager> {
  // Re-check under the start lock: the previous holder may have finished between our first look and now.
  let exited = false;
  const current = readLock(SUPERVISOR);
  if (current) await replaceIfFrozen(current, deadline);
  if (!readLock(SUPERVISOR)) {
    const child = spawnDetached(SUPERVISOR, daemonArgv({ kind: "supervisor" }));
    void child.exited.then(() => (exited = true));
  }
  while (Date.now() < deadline) {
    const manager = await findSupervisor();
    if (manager) return manager;
    if (exited && !readLock(SUPERVISOR)) {
      throw new MsmError(
        "SUPERVISOR_UNREACHABLE",
        `The msm supervisor exited right after starting. See ${paths.log(SUPERVISOR)}, or run "msm supervisor" in a terminal.`,
      );
    }
    await Bun.sleep(POLL_MS);
  }
  throw new MsmError("SUPERVISOR_UNREACHABLE", `The msm supervisor did not answer in time. See ${paths.log(SUPERVISOR)}.`);
}

/**
 * The live supervisor named by `lock` does not answer. Give it SUPERVISOR_HANG_MS; if it stays silent, kill it —
 * only after checking the lock still names the same process (pid and start time) and that it is an msm supervisor
 * by its command line, so a recycled pid is never signalled — and remove its lock so a new one can take over.
 * Daemons run in their own sessions and keep serving; the new supervisor adopts them.
 */
async function replaceIfFrozen(lock: LockInfo, deadline: number): Promise<void> {
  const until = Math.min(deadline, Date.now() + SUPERVISOR_HANG_MS);
  while (Date.now() < until) {
    if (!ownerAlive(lock)) return;
    if (lock.port > 0 && (await isHealthy(lock.port))) return;
    await Bun.sleep(POLL_MS * 4);
  }
  const again = readLock(SUPERVISOR);
  if (!again || again.pid !== lock.pid || again.pidStart !== lock.pidStart) return;
  if (again.port > 0 && (await isHealthy(again.port))) return;
  const command = commandLine(lock.pid);
  if (command !== undefined && !/\bsupervisor\b/.test(command)) return;
  signal(lock.pid, "SIGKILL");
  const dead = Date.now() + 2_000;
  while (Date.now() < dead && isAlive(lock.pid)) await Bun.sleep(POLL_MS);
  releaseIfOwned(paths.lock(SUPERVISOR), lock.pid);
}
