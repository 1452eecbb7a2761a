import { VERSION } from "./version.ts";

/**
 * Version skew: after an upgrade the binary on disk is new while the supervisor and daemons that were already
 * running are still the old one. Nothing breaks by itself, but it must never be silent: every place that meets
 * a process of another version (proxy log, supervisor log, `msm status`) says so and names the fix.
 */

export const UPGRADE_HINT = `run "msm upgrade-daemons" (or "msm restart --all") to replace them one by one`;

/** A line about a process of another version than this binary, or undefined when the versions match. */
export function skewNote(what: string, version: string | undefined, ours = VERSION): string | undefined {
  if (!version || version === ours) return undefined;
  return `${what} is msm ${version}, this binary is ${ours}; ${UPGRADE_HINT}`;
}
