/**
 * What the supervisor asks a stdio host daemon besides `/stats` (contracts/stats.ts): restart one project's child,
 * its sessions kept (`msm restart NAME --project DIR`), and take new settings for its children after an edit of
 * config.json. host/app.ts serves both; the keeper calls them with restartHostChild and pushHostSettings.
 */
import { MsmError } from "../errors.ts";

export const HOST_RESTART_PATH = "/restart";

/** `POST /restart?project=DIR`: the project folders (or "global") whose child was restarted. */
export interface HostRestartAnswer {
  restarted: string[];
}

/** Asks the host on `port` to restart the child serving `project`; a refusal is the host's message as an MsmError. */
export async function restartHostChild(options: { name: string; port: number; token: string; project: string; timeoutMs: number }): Promise<HostRestartAnswer> {
  const response = await fetch(`http://127.0.0.1:${options.port}${HOST_RESTART_PATH}?project=${encodeURIComponent(options.project)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${options.token}`, connection: "close" },
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  const body = (await response.json().catch(() => ({}))) as Partial<HostRestartAnswer> & { message?: string };
  if (!response.ok) throw new MsmError("UNKNOWN_TARGET", body.message ?? `The "${options.name}" host answered ${response.status}.`);
  return { restarted: body.restarted ?? [] };
}

export const HOST_SETTINGS_PATH = "/settings";

/** The settings a running host takes without a restart (its children's idle stop and start wait, its pool size). */
export interface HostSettings {
  childIdleMs: number;
  startTimeoutSeconds: number;
  /** Children per key for new sessions (absent: the host keeps what it has). */
  instances?: number | "auto";
}

/**
 * Tells the host on `port` its new settings; false when it did not take them (a host older than this route, or one
 * that does not answer): the caller restarts it instead.
 */
export async function pushHostSettings(options: { port: number; token: string; settings: HostSettings; timeoutMs?: number }): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${options.port}${HOST_SETTINGS_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json", connection: "close" },
      body: JSON.stringify(options.settings),
      signal: AbortSignal.timeout(options.timeoutMs ?? 2_000),
    });
    await response.body?.cancel().catch(() => {});
    return response.ok;
  } catch {
    return false;
  }
}
