/**
 * What the supervisor asks a stdio host daemon besides `/stats` (contracts/stats.ts): restart one project's child,
 * its sessions kept (`msm restart NAME --project DIR`). host/app.ts serves it; the keeper calls it with
 * restartHostChild.
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
