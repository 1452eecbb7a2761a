/**
 * Does the daemon a lock file describes demand msm's bearer token? Read here for every reader: lib/lock.ts behind
 * its schema, and the proxy, which reads a live daemon's lock without zod (start time and memory, see liveLock).
 *
 * Every msm daemon now writes `auth: "bearer"`. The relay of a remote target in msm 0.1 wrote `own: true` instead;
 * one still running from before an upgrade keeps that lock, and its sessions must keep working, so it counts too.
 */
export function wantsToken(lock: { auth?: unknown; own?: unknown }): boolean {
  return lock.auth === "bearer" || lock.own === true;
}
