import { appendFileSync } from "node:fs";
import { createServer } from "node:net";
import type { ResolvedTarget } from "../lib/config.ts";
import { baseEnv, withoutMsmMarkers } from "../lib/base-env.ts";
import { MsmError } from "../lib/errors.ts";
import { acquireLock, readLock, releaseIfOwned, type LockInfo } from "../lib/lock.ts";
import { paths, userHome } from "../lib/paths.ts";
import { probe } from "../lib/probe.ts";
import { terminate } from "../lib/proc.ts";
import { spawnDetached } from "../lib/spawn.ts";
import { VERSION } from "../lib/version.ts";

const POLL_MS = 50;

/** A daemon that passed its health check. `exited` exists when we spawned it (we are its parent). */
export interface Launched {
  lock: LockInfo;
  exited?: Promise<number | null>;
  adopted: boolean;
}

/** Starts the target's daemon and waits until it is healthy; a live daemon already holding the lock is adopted. */
/** `timeoutMs` (the target's `startTimeoutMs` by default) is how long it may take: npx/uvx may download first. */
export async function launch(target: ResolvedTarget, timeoutMs = target.startTimeoutMs): Promise<Launched> {
  const existing = readLock(target.name);
  if (existing) return { lock: existing, adopted: true };
  return target.kind === "external" ? launchExternal(target, timeoutMs) : launchOwn(target, timeoutMs);
}

/** msm's own daemons (`msm memory`, `msm host --target NAME`, `msm remote NAME`) take their lock and pick their port themselves. */
async function launchOwn(target: ResolvedTarget, timeoutMs: number): Promise<Launched> {
  const args =
    target.kind === "hosted"
      ? ["host", "--target", target.name, "--detached"]
      : [...(target.kind === "remote" ? ["remote", target.name] : [target.name]), "--detached", "--port", String(target.port)];
  note(
    target.name,
    target.kind === "hosted"
      ? `starting the host for "${target.command}"`
      : `starting msm ${target.kind === "remote" ? `remote ${target.name}` : target.name} (preferred port ${target.port || "any"})`,
  );
  const child = spawnDetached(target.name, args);
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lock = readLock(target.name);
    if (lock && lock.port > 0 && (await probe(target, lock))) {
      const ours = lock.pid === child.pid;
      return { lock, exited: ours ? child.exited : undefined, adopted: !ours };
    }
    // Exited without anyone else holding the lock: it failed (a racing start it deferred to would hold the lock).
    if (exitCode !== undefined && !lock) throw startFailed(target, `exited with code ${exitCode ?? "(signal)"} right after starting`);
    await Bun.sleep(POLL_MS);
  }
  await terminate(child.pid, { group: true });
  throw startFailed(target, `did not pass its health check within ${seconds(timeoutMs)}`);
}

/**
 * External servers know nothing of msm: the supervisor picks the port, substitutes `{port}`, starts the command as
 * a session leader (so stopping it can signal everything it spawned) and writes the lock on its behalf.
 */
async function launchExternal(target: Extract<ResolvedTarget, { kind: "external" }>, timeoutMs: number): Promise<Launched> {
  const port = await pickPort(target.port);
  if (target.port > 0 && port !== target.port) note(target.name, `port ${target.port} is busy; using ${port} instead`);
  const fill = (text: string) => text.replaceAll("{port}", String(port));
  const command = [target.command, ...target.args.map(fill)];
  // One daemon for every session: the base set (the supervisor has no more), never one session's environment.
  const env: Record<string, string | undefined> = withoutMsmMarkers(baseEnv());
  for (const [key, value] of Object.entries(target.env)) env[key] = fill(value);
  note(target.name, `starting ${command.join(" ")} (port ${port})`);
  let child;
  try {
    child = spawnDetached(target.name, [], { command, env, cwd: target.cwd ?? userHome() });
  } catch (error) {
    throw startFailed(target, `could not run "${target.command}" (${(error as Error).message}); check "command" and "cwd" in ${paths.config()}`);
  }
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  const info: LockInfo = {
    pid: child.pid,
    port,
    transport: target.transport,
    path: target.path,
    startedAt: new Date().toISOString(),
    version: VERSION,
    group: true,
  };
  const taken = acquireLock(target.name, info);
  if ("existing" in taken) {
    // Only the supervisor starts daemons, so this is one someone ran by hand a moment ago: keep theirs.
    await terminate(child.pid, { group: true });
    return { lock: taken.existing, adopted: true };
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe(target, info)) return { lock: readLock(target.name) ?? info, exited: child.exited, adopted: false };
    if (exitCode !== undefined) {
      releaseIfOwned(paths.lock(target.name), child.pid);
      await terminate(child.pid, { group: true });
      throw startFailed(target, `exited with code ${exitCode ?? "(signal)"} before answering on port ${port}`);
    }
    await Bun.sleep(POLL_MS);
  }
  await terminate(child.pid, { group: true });
  releaseIfOwned(paths.lock(target.name), child.pid);
  throw startFailed(target, `did not answer on http://127.0.0.1:${port}${target.path} within ${seconds(timeoutMs)}`);
}

/** A failed start: `why` is the short reason the keeper records (status shows it), the message is for people. */
export class StartFailed extends MsmError {
  constructor(
    name: string,
    readonly why: string,
  ) {
    super("DAEMON_START_FAILED", `The "${name}" daemon ${why}. See "msm logs ${name}".`);
  }
}

function startFailed(target: ResolvedTarget, why: string): MsmError {
  note(target.name, `start failed: ${why}`);
  return new StartFailed(target.name, why);
}

/** A line from msm itself in the daemon's log, so the log tells the whole story of starts and exits. */
export function note(name: string, message: string): void {
  try {
    appendFileSync(paths.log(name), `${new Date().toISOString()} [msm] ${message}\n`);
  } catch {}
}

/** The preferred port when it can be bound on loopback right now, else one the OS picks. */
export async function pickPort(preferred: number): Promise<number> {
  if (preferred > 0) {
    const got = await bindOnce(preferred);
    if (got) return got;
  }
  const any = await bindOnce(0);
  if (!any) throw new MsmError("PORT_BUSY", "Could not find a free port on 127.0.0.1.");
  return any;
}

function bindOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** "1.5 s", "60 s": start timeouts may be fractions. */
function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
