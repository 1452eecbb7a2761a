import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { removeQuietly, writeFileAtomic } from "../lib/fsutil.ts";
import { ensureHome, msmHome } from "../lib/paths.ts";

/** Refresh this long before the access token expires, so a call in flight never carries a token about to lapse. */
export const REFRESH_EARLY_MS = 30_000;

/** What msm keeps about one remote target's login: `MSM_HOME/auth/<name>.json`, mode 0600. */
export interface Login {
  /** The client msm registered (dynamic client registration) or was given. */
  client?: OAuthClientInformationMixed;
  tokens?: OAuthTokens;
  /** When the access token expires (ms since the epoch), from `expires_in` at the time it was issued. */
  expiresAt?: number;
  /** When it was issued (ms since the epoch): short-lived tokens are refreshed a share of their life early. */
  issuedAt?: number;
  /** The loopback redirect of the last login (a refresh must name one to count as the same interactive flow). */
  redirect?: string;
  /** PKCE verifier of a login in progress (never used after the code exchange). */
  verifier?: string;
}

export const authFile = (name: string) => join(msmHome(), "auth", `${name}.json`);

export function readLogin(name: string): Login {
  try {
    const parsed = JSON.parse(readFileSync(authFile(name), "utf8")) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Login) : {};
  } catch {
    return {};
  }
}

/** Written whole to a temp file and renamed: a reader never sees half a token. 0600 in a 0700 folder. */
export function writeLogin(name: string, login: Login): void {
  ensureHome();
  mkdirSync(join(msmHome(), "auth"), { recursive: true, mode: 0o700 });
  writeFileAtomic(authFile(name), JSON.stringify(login, null, 2) + "\n", 0o600);
}

export function forgetLogin(name: string): boolean {
  const had = readLogin(name).tokens !== undefined;
  removeQuietly(authFile(name));
  return had;
}

/**
 * Whether the access token is close enough to its end to refresh it before the next request. A client-credentials
 * client (`renewable`) needs no refresh token: it asks for a new access token with its own credentials.
 */
export function dueForRefresh(login: Login, now = Date.now(), renewable = false): boolean {
  if (!login.tokens || (!login.tokens.refresh_token && !renewable) || login.expiresAt === undefined) return false;
  const lifetime = login.issuedAt !== undefined ? login.expiresAt - login.issuedAt : Infinity;
  return login.expiresAt - now < Math.min(REFRESH_EARLY_MS, lifetime / 4);
}

/** What `msm status` shows: logged in or not, and until when the access token is good. */
export interface LoginState {
  loggedIn: boolean;
  expiresAt: number | null;
  refreshable: boolean;
}

export function loginState(name: string, renewable = false): LoginState {
  const login = readLogin(name);
  return { loggedIn: Boolean(login.tokens?.access_token), expiresAt: login.expiresAt ?? null, refreshable: renewable || Boolean(login.tokens?.refresh_token) };
}
