import type { Transport } from "../lib/config.ts";
import type { WireAddress } from "../lib/contracts/wire.ts";
import { loopbackRequest, NOT_DELIVERED } from "./loopback.ts";

/** Where the bridge sends messages: an MCP endpoint, how to speak to it, and the headers every request carries. */
export interface Upstream {
  url: string;
  transport: Transport;
  headers: Record<string, string>;
  /**
   * One of the daemons msm runs on loopback (memory, a stdio host, a remote relay): POSTs go over msm's own kept-alive
   * connections (loopback.ts), whose failures say for certain whether a message reached the daemon, so recovery
   * resends only what never got there. These daemons never close an idle connection (lib/serve.ts).
   */
  ownDaemon?: boolean;
  /**
   * Every POST on a connection of its own: a server msm started from config that serves HTTP itself. It may close
   * idle keep-alive connections whenever it likes, and a close racing a message would look like a restart; a fresh
   * connection to a dead server is always refused, so recovery can resend with certainty (~0.2 ms a message).
   */
  freshConnections?: boolean;
  /**
   * A stdio host: the editor's `initialize` carries this proxy's environment (SESSION_ENV_META), so the server the
   * host starts for this session's project sees what it would have seen had the editor started it.
   */
  sessionEnv?: boolean;
  /**
   * The daemon takes proxies on the line wire too (one connection for the session, JSON-RPC lines both ways; see
   * WireBridge): where, and what its hello says — msm's token (over HTTP: `Authorization`) and the session's project
   * (over HTTP: `Mcp-Project-Path`). HTTP stays the way for everything else.
   */
  wire?: { address: WireAddress; token: string; project?: string };
}

/**
 * Finds the server again: for a configured target this ensures the daemon (starting it, possibly on another port);
 * for `--url` it is the same address. Injected so the bridge works with whatever starts daemons (lib/ensure.ts,
 * later the supervisor) and so tests can count restarts.
 */
export type Connect = () => Promise<Upstream>;

/**
 * Connection refused (the daemon is gone), no route, or a daemon's connection proven closed before the message
 * arrived (loopback.ts): the message never reached the server, so resending is safe.
 */
export function isUnreachable(error: unknown): boolean {
  const code = error && typeof error === "object" && "code" in error ? String((error as { code: unknown }).code) : "";
  if ([NOT_DELIVERED, "ECONNREFUSED", "ConnectionRefused", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "FailedToOpenSocket"].includes(code)) return true;
  return /Unable to connect|ECONNREFUSED|connection refused/i.test(String((error as Error)?.message ?? error));
}

/** Bun-only fetch option: `timeout: false` turns off Bun's 5-minute socket idle timer, which would cut a long
 * tool call or a quiet GET stream (MCP sets no limit on how long a tool may run). */
export const NO_TIMEOUT = { timeout: false } as unknown as RequestInit;

/** Parses `--header "Name: value"` arguments (curl syntax). */
export function parseHeaders(specs: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const spec of specs) {
    const colon = spec.indexOf(":");
    if (colon <= 0) throw new Error(`--header "${spec}" is not "Name: value"`);
    headers[spec.slice(0, colon).trim().toLowerCase()] = spec.slice(colon + 1).trim();
  }
  return headers;
}

/** A reset this soon after sending can only come from a pooled socket the server had already closed. */
export const STALE_SOCKET_MS = 20;
/** At most this many immediate resets in a row are taken for stale sockets. */
export const STALE_SOCKET_RETRIES = 8;

function isConnectionReset(error: unknown): boolean {
  const code = error && typeof error === "object" && "code" in error ? String((error as { code: unknown }).code) : "";
  return code === "ECONNRESET" || /ECONNRESET|socket connection was closed/i.test(String((error as Error)?.message ?? error));
}

/**
 * POSTs one message. To msm's own daemons (`ownDaemon`) it goes on msm's own loopback connections (loopback.ts),
 * where a dead daemon shows as a refusal or a proven non-delivery, never as an ambiguous reset; to a server msm
 * started from config (`freshConnections`), on a new connection, where a dead server is a refusal. To any other server (`--url`, possibly remote, where a new TLS
 * connection per message would cost far more) the pooled socket is used: a server that closed it leaves it behind
 * for a moment, and a POST written to it is reset at once; that case is retried on a fresh connection. This is a
 * best guess by timing, acceptable only because such servers are not msm's to restart.
 */
export async function postFresh(fetchFn: typeof fetch, upstream: Upstream, url: string, init: RequestInit): Promise<Response> {
  if (upstream.ownDaemon && url.startsWith("http://"))
    return loopbackRequest(url, { method: init.method ?? "POST", headers: init.headers as Record<string, string>, body: init.body as string | undefined });
  if (upstream.ownDaemon || upstream.freshConnections) return fetchFn(url, { ...init, keepalive: false });
  // The pool may hold several dead sockets (one per earlier concurrent request); each failed try discards one.
  for (let attempt = 0; ; attempt++) {
    const sentAt = performance.now();
    try {
      return await fetchFn(url, attempt === 0 ? init : { ...init, keepalive: false });
    } catch (error) {
      if (attempt >= STALE_SOCKET_RETRIES || !isConnectionReset(error) || performance.now() - sentAt > STALE_SOCKET_MS) throw error;
    }
  }
}

/**
 * Spec (session management): 404 for a session id means the session is gone and the client must initialize again.
 * Some servers (server-everything, many SDK examples) answer 400 "No valid session ID" instead; treat that alike.
 */
export function sessionGone(status: number, body: string): boolean {
  return status === 404 || (status === 400 && /session/i.test(body));
}
