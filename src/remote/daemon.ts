import type { ResolvedTarget } from "../lib/config.ts";
import { STATS_PATH, type StatsAnswer } from "../lib/contracts/stats.ts";
import { msmEnv } from "../lib/env.ts";
import { createBaseApp } from "../lib/http/app.ts";
import { runDaemon } from "../lib/http/daemon.ts";
import { PROJECT_HEADER } from "../lib/http/headers.ts";
import { createLogger } from "../lib/log.ts";
import { resolveRemoteStrings } from "../lib/secrets/resolve.ts";
import { ensureHome, paths } from "../lib/paths.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";
import { extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { dueForRefresh, isMachineClient, readLogin, refreshLogin } from "./auth.ts";
import type { Challenge } from "./login.ts";

type Remote = Extract<ResolvedTarget, { kind: "remote" }>;

/**
 * How long a request waits for a login the first session started (the browser opened on the authorization page)
 * before the editor is told to log in; MSM_LOGIN_WAIT_MS overrides. Long enough to click "allow", short enough that
 * a machine without a browser answers within an editor's patience.
 */
export const LOGIN_WAIT_MS = 20_000;
/** How long to wait for the authorization URL itself (discovery and client registration come first). */
const LOGIN_URL_WAIT_MS = 10_000;

/** 401, or 403 asking for more scope (step-up authorization): a person must approve, in the browser. */
function needsLogin(response: Response): boolean {
  if (response.status === 401) return true;
  return response.status === 403 && /insufficient_scope/.test(response.headers.get("www-authenticate") ?? "");
}

interface LoginAttempt {
  url?: string;
  done: Promise<boolean>;
  urlKnown: Promise<void>;
}

/**
 * Request headers that stay on this side. msm's bearer token and the editor's project path are for msm's daemons
 * only (a remote server must never learn either); hop-by-hop and body-framing headers belong to each connection;
 * Host, Origin and cookies would describe the loopback hop, not the remote one.
 */
const LOCAL_ONLY = new Set([
  "authorization",
  PROJECT_HEADER,
  "host",
  "origin",
  "cookie",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
  "accept-encoding",
  "te",
  "upgrade",
]);
/** Bun's fetch has already decoded the body: its original encoding and length no longer describe it. */
const DECODED = new Set(["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]);

/**
 * What the relay sends: the target's URL, headers and OAuth client with their references resolved. Messages and logs
 * name `target.url` as written in config.json instead, so a secret in the URL never reaches them.
 */
export interface Live {
  url: string;
  headers: Record<string, string>;
  oauth?: Remote["oauth"];
  /** Masks the resolved secrets in an error's words before they go to a session or the log. */
  redact?: (text: string) => string;
}

const liveOf = (target: Remote): Live => ({ url: target.url, headers: target.headers, oauth: target.oauth });

interface Log {
  info: (message: string) => void;
  warn: (message: string) => void;
}

/**
 * The relay for one remote target: every session's proxy talks to it on loopback (behind msm's token), it talks to
 * the remote server with the OAuth access token of the one login, and it alone refreshes that token — one refresh at
 * a time, shared by every request that needs it, so twenty sessions never race a rotating refresh token. MCP
 * sessions stay one per editor session (the server's own session ids pass through untouched).
 */
export function createRelay(target: Remote, token: string, log: Log, fetchFn: typeof fetch = fetch, live: Live = liveOf(target)) {
  const app = createBaseApp(token);
  const mask = live.redact ?? ((text: string) => text);
  let requests = 0;
  let refreshing: Promise<boolean> | undefined;
  let loggingIn: LoginAttempt | undefined;
  const loginWaitMs = msmEnv().loginWaitMs ?? LOGIN_WAIT_MS;
  /** Client credentials: the relay gets every token itself (no browser), and a new one whenever the last runs out. */
  const machine = isMachineClient(target.oauth);

  /**
   * No login yet (or the grant is gone): the first session to need one starts it — the browser opens on the
   * authorization page, as `msm login` would — and every request meanwhile waits for the same attempt.
   */
  const startLogin = (challenge: Challenge): LoginAttempt => {
    if (loggingIn) return loggingIn;
    let urlKnown = () => {};
    const attempt: LoginAttempt = { done: Promise.resolve(false), urlKnown: new Promise<void>((resolve) => (urlKnown = resolve)) };
    attempt.done = import("./login.ts")
      .then(({ login }) =>
        login(
          { ...target, url: live.url, oauth: live.oauth },
          (url) => {
            attempt.url = url;
            log.info(`login needed: opened the browser on ${url}`);
            urlKnown();
          },
          challenge,
        ),
      )
      .then(
        () => {
          log.info("logged in");
          return true;
        },
        (error: Error) => {
          log.warn(`login did not complete: ${error.message}`);
          return false;
        },
      )
      .finally(() => {
        loggingIn = undefined;
        urlKnown();
      });
    loggingIn = attempt;
    return attempt;
  };
  const within = <T>(promise: Promise<T>, ms: number, otherwise: T) =>
    Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(otherwise), ms).unref?.())]);
  app.get(STATS_PATH, (c) => c.json({ sessions: null, requests } satisfies StatsAnswer));

  /** One refresh for everyone waiting; true when a usable access token is on file afterwards. */
  const refresh = (): Promise<boolean> => {
    refreshing ??= (async () => {
      try {
        const outcome = await refreshLogin(target.name, live.url, live.oauth, fetchFn);
        if (outcome === "AUTHORIZED") log.info("access token refreshed");
        else log.warn(`the login has expired: run "msm login ${target.name}"`);
        return outcome === "AUTHORIZED";
      } catch (error) {
        log.warn(`refreshing the access token failed: ${(error as Error).message}`);
        return false;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const forward = async (request: Request, body: ArrayBuffer | undefined): Promise<Response> => {
    const headers = new Headers();
    request.headers.forEach((value, name) => {
      if (!LOCAL_ONLY.has(name)) headers.set(name, value);
    });
    for (const [name, value] of Object.entries(live.headers)) headers.set(name, value);
    const access = readLogin(target.name).tokens?.access_token;
    if (access) headers.set("authorization", `Bearer ${access}`);
    return fetchFn(live.url, { method: request.method, headers, body, redirect: "manual", signal: request.signal, timeout: false } as RequestInit);
  };

  app.all("/mcp", async (c) => {
    requests++;
    const request = c.req.raw;
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    if (dueForRefresh(readLogin(target.name), Date.now(), machine)) await refresh();
    let response: Response;
    try {
      response = await forward(request, body);
      // The server refused the token (expired early, revoked): refresh once and try again.
      if (response.status === 401 && (machine ? readLogin(target.name).tokens : readLogin(target.name).tokens?.refresh_token)) {
        await response.body?.cancel().catch(() => {});
        if (await refresh()) response = await forward(request, body);
      }
    } catch (error) {
      log.warn(`cannot reach ${target.url}: ${mask((error as Error).message)}`);
      return c.json({ jsonrpc: "2.0", id: null, error: { code: -32000, message: `msm: cannot reach ${target.url} (${mask((error as Error).message)})` } }, 502);
    }
    if (needsLogin(response)) {
      await response.body?.cancel().catch(() => {});
      const attempt = startLogin(extractWWWAuthenticateParams(response));
      await within(attempt.urlKnown, LOGIN_URL_WAIT_MS, undefined);
      if (await within(attempt.done, loginWaitMs, false)) {
        try {
          response = await forward(request, body);
        } catch (error) {
          return c.json(
            { jsonrpc: "2.0", id: null, error: { code: -32000, message: `msm: cannot reach ${target.url} (${mask((error as Error).message)})` } },
            502,
          );
        }
      }
    }
    if (needsLogin(response)) {
      await response.body?.cancel().catch(() => {});
      const open = loggingIn?.url ? `open ${loggingIn.url} to log in, or ` : "";
      const message = machine
        ? `msm: ${target.url} refused msm's client credentials (see "msm logs ${target.name}"; check "oauth" of target "${target.name}" in config.json)`
        : `msm: ${target.url} needs a login: ${open}run "msm login ${target.name}", then retry`;
      return c.json({ jsonrpc: "2.0", id: null, error: { code: -32001, message } }, 401);
    }
    const headers = new Headers();
    response.headers.forEach((value, name) => {
      if (!DECODED.has(name)) headers.set(name, value);
    });
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  });
  return app;
}

export interface RelayOptions {
  target: Remote;
  port: number;
  detached: boolean;
}

export async function runRelay(options: RelayOptions): Promise<void> {
  ensureHome();
  const { target } = options;
  const logger = createLogger({ file: paths.log(target.name), tag: target.name, stderr: !options.detached });
  // References resolved once, at start (the supervisor checked they resolve): `msm restart NAME` applies a change.
  const { strings, redact } = await resolveRemoteStrings(target);
  const live: Live = {
    url: strings.url,
    headers: strings.headers,
    oauth: target.oauth && strings.clientSecret !== undefined ? { ...target.oauth, clientSecret: strings.clientSecret } : target.oauth,
    redact,
  };
  // An error from the network or the OAuth client may quote the URL it was given: masked before it is logged.
  const log = { info: (m: string) => logger.info(redact(m)), warn: (m: string) => logger.warn(redact(m)) };
  await runDaemon({
    kind: "remote",
    name: target.name,
    log,
    port: options.port,
    start: () => ({
      fetch: createRelay(target, loadToken(), log, fetch, live).fetch,
      listening: (port) => `relaying http://127.0.0.1:${port}/mcp to ${target.url} (pid ${process.pid}, version ${VERSION})`,
    }),
  });
}
