import { appendFileSync } from "node:fs";
import { createServer } from "node:net";
import type { ResolvedTarget } from "../lib/config.ts";
import { baseEnv, withoutMsmMarkers } from "../lib/base-env.ts";
import { daemonArgv, daemonTargetEnv } from "../lib/contracts/daemon-argv.ts";
import { MsmError } from "../lib/errors.ts";
import { acquireLock, readLock, releaseIfOwned, type LockInfo } from "../lib/lock.ts";
import { paths, userHome } from "../lib/paths.ts";
import { probe } from "../lib/probe.ts";
import { needsResolving, resolveRemoteStrings, resolveStrings, UnresolvedError } from "../lib/secrets/resolve.ts";
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
  // A relay resolves its URL and headers itself; checked here first, so a missing reference is a start that fails
  // with its name (in status and the session's error), not a relay that exits.
  if (target.kind === "remote") await resolveRemote(target);
  const args = daemonArgv(
    target.kind === "hosted"
      ? { kind: "host", target: target.name }
      : target.kind === "remote"
        ? { kind: "remote", name: target.name, port: target.port }
        : { kind: "memory", port: target.port },
  );
  note(
    target.name,
    target.kind === "hosted"
      ? `starting the host for "${target.command}"`
      : `starting msm ${target.kind === "remote" ? `remote ${target.name}` : target.name} (preferred port ${target.port || "any"})`,
  );
  // The entry in force, not whatever config.json says this moment (it may be broken: the last good one applies).
  const child = spawnDetached(target.name, args, { env: { ...baseEnv(), ...daemonTargetEnv(target) } });
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
  // As written in config.json (references, never their values): what the log shows.
  const shown = [target.command, ...target.args.map(fill)];
  // One daemon for every session: the base set (the supervisor has no more), never one session's environment.
  const inherited: Record<string, string | undefined> = withoutMsmMarkers(baseEnv());
  let command = shown;
  let cwd = target.cwd ?? userHome();
  let env = { ...inherited };
  let redact = (text: string) => text;
  if (needsResolving(target, target.envFile)) {
    const strings = { command: target.command, args: target.args, env: target.env, ...(target.cwd !== undefined ? { cwd: target.cwd } : {}) };
    const resolved = await resolving(target, () =>
      resolveStrings(strings, { target: target.name, inherited, whose: BASE_WHOSE, base: true, envFile: target.envFile, literal: fill }),
    );
    command = [resolved.strings.command!, ...resolved.strings.args!];
    cwd = resolved.strings.cwd ?? cwd;
    env = { ...inherited, ...resolved.fileEnv, ...resolved.strings.env };
    redact = resolved.redact;
  } else for (const [key, value] of Object.entries(target.env)) env[key] = fill(value);
  note(target.name, `starting ${shown.join(" ")} (port ${port})`);
  let child;
  try {
    child = spawnDetached(target.name, [], { command, env, cwd });
  } catch (error) {
    throw startFailed(target, `could not run "${target.command}" (${redact((error as Error).message)}); check "command" and "cwd" in ${paths.config()}`);
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

/**
 * A failed start: `why` is the short reason the keeper records (status shows it), the message is for people.
 * `unresolved`: a reference could not be resolved — not a crash to retry with backoff, but something the user fixes
 * outside msm, after which the next session's request starts it.
 */
export class StartFailed extends MsmError {
  constructor(
    name: string,
    readonly why: string,
    readonly unresolved = false,
  ) {
    super(
      unresolved ? "SECRET_UNRESOLVED" : "DAEMON_START_FAILED",
      unresolved ? `The "${name}" target ${why}. Fix that; the next request tries again.` : `The "${name}" daemon ${why}. See "msm logs ${name}".`,
    );
  }
}

function startFailed(target: ResolvedTarget, why: string, unresolved = false): MsmError {
  note(target.name, `start failed: ${why}`);
  return new StartFailed(target.name, why, unresolved);
}

/** Whose environment a shared server's `${VAR}` is read from. */
const BASE_WHOSE = "the supervisor's environment (msm's base set)";

/** Runs a resolution; a reference that cannot be resolved becomes a failed start naming it. */
async function resolving<T>(target: ResolvedTarget, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UnresolvedError) throw startFailed(target, error.message, true);
    throw error;
  }
}

/** A remote target's URL and headers resolved (lib/secrets/resolve.ts), a missing reference a failed start. */
async function resolveRemote(target: Extract<ResolvedTarget, { kind: "remote" }>): Promise<void> {
  await resolving(target, () => resolveRemoteStrings(target));
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
