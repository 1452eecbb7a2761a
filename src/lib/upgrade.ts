import { callSupervisor } from "./contracts/supervisor-api.ts";
import { MsmError } from "./errors.ts";
import { readLock } from "./lock.ts";
import { ensureSupervisor, findSupervisor, SUPERVISOR, type Manager } from "./manager.ts";
import { isAlive, signal } from "./proc.ts";
import { VERSION } from "./version.ts";

/** Stop (grace period) + start + health check of one daemon. */
export const RESTART_TIMEOUT_MS = 40_000;
/** How long an old supervisor gets to exit after SIGTERM (it leaves its daemons running). */
const SUPERVISOR_EXIT_MS = 10_000;

export interface Replaced {
  name: string;
  from: string | null;
  pid: number;
}

/**
 * Puts this binary in charge: a supervisor of another version is asked to exit (SIGTERM: daemons keep running and
 * keep serving), this binary's supervisor adopts them, then each running daemon is restarted — one at a time, so
 * at most one target is briefly away, and a session's next call to it waits for the new daemon (the proxy
 * re-initializes and resends) instead of failing. `all` restarts every running daemon; otherwise only those of
 * another version. `say` reports each step.
 */
export async function replaceDaemons(options: { all: boolean; say: (line: string) => void }): Promise<Replaced[]> {
  const manager = await supervisorOfThisVersion(options.say);
  const status = await callSupervisor(manager, "status", {}, 10_000);
  const replaced: Replaced[] = [];
  for (const target of status.targets) {
    // A degraded host runs too (one of its children failed): it is replaced like any other.
    if (target.state !== "running" && target.state !== "degraded") continue;
    const version = target.version ?? readLock(target.name)?.version ?? null;
    if (!options.all && version === VERSION) continue;
    const endpoint = await callSupervisor(manager, "restart", { name: target.name }, RESTART_TIMEOUT_MS);
    options.say(`restarted ${target.name}${version && version !== VERSION ? ` (msm ${version} -> ${VERSION})` : ""}: pid ${endpoint.pid}`);
    replaced.push({ name: target.name, from: version, pid: endpoint.pid });
  }
  return replaced;
}

async function supervisorOfThisVersion(say: (line: string) => void): Promise<Manager> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const lock = readLock(SUPERVISOR);
    if (lock && lock.version !== VERSION) {
      say(`replacing supervisor pid ${lock.pid} (msm ${lock.version}) with msm ${VERSION}; daemons keep running meanwhile`);
      signal(lock.pid, "SIGTERM");
      const deadline = Date.now() + SUPERVISOR_EXIT_MS;
      while (Date.now() < deadline && isAlive(lock.pid)) await Bun.sleep(25);
      if (isAlive(lock.pid))
        throw new MsmError("SUPERVISOR_UNREACHABLE", `The old supervisor (pid ${lock.pid}) did not exit; stop it with "kill ${lock.pid}" and run this again.`);
    }
    const manager = (await findSupervisor()) ?? (await ensureSupervisor());
    // A session of the old binary may have started its own supervisor in the gap: go round again.
    if (readLock(SUPERVISOR)?.version === VERSION) return manager;
  }
  throw new MsmError(
    "SUPERVISOR_UNREACHABLE",
    `Another msm version keeps starting the supervisor; close the editor sessions of the old msm and run this again.`,
  );
}

/**
 * `msm restart supervisor`: the supervisor exits (its daemons keep running and serving sessions) and a new one
 * starts, reads config.json afresh and adopts them — what a changed `supervisor.port` needs; no daemon restarts.
 */
export async function restartSupervisor(say: (line: string) => void): Promise<Manager> {
  const lock = readLock(SUPERVISOR);
  if (lock) {
    signal(lock.pid, "SIGTERM");
    const deadline = Date.now() + SUPERVISOR_EXIT_MS;
    while (Date.now() < deadline && isAlive(lock.pid)) await Bun.sleep(25);
    if (isAlive(lock.pid))
      throw new MsmError("SUPERVISOR_UNREACHABLE", `The supervisor (pid ${lock.pid}) did not exit; stop it with "kill ${lock.pid}" and run this again.`);
  }
  const manager = await ensureSupervisor();
  say(`restarted the supervisor: pid ${manager.pid} on 127.0.0.1:${manager.port}${lock ? ` (was pid ${lock.pid} on ${lock.port})` : ""}; daemons kept running`);
  return manager;
}
