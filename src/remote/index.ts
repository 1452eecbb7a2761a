/**
 * The remote folder's public face: login state (read at once, `msm status` needs it), and the login and the relay,
 * which load the MCP SDK's OAuth client only when run.
 */
import type { ResolvedTarget } from "../lib/config.ts";
import type { RelayOptions } from "./daemon.ts";

export { forgetLogin, loginState, type LoginState } from "./store.ts";
export type { RelayOptions } from "./daemon.ts";

type Remote = Extract<ResolvedTarget, { kind: "remote" }>;

/** `msm login NAME`: the browser login (or client credentials), once for every session. */
export async function login(target: Remote, onUrl: (url: string) => void): Promise<void> {
  return (await import("./login.ts")).login(target, onUrl);
}

/** `msm remote NAME` (hidden): the target's relay, until it is stopped. */
export async function runRelay(options: RelayOptions): Promise<void> {
  return (await import("./daemon.ts")).runRelay(options);
}
