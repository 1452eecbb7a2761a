import type { Transport } from "../lib/config.ts";

/** Where the bridge sends messages: an MCP endpoint, how to speak to it, and the headers every request carries. */
export interface Upstream {
  url: string;
  transport: Transport;
  headers: Record<string, string>;
}

/**
 * Finds the server again: for a configured target this ensures the daemon (starting it, possibly on another port);
 * for `--url` it is the same address. Injected so the bridge works with whatever starts daemons (lib/ensure.ts,
 * later the supervisor) and so tests can count restarts.
 */
export type Connect = () => Promise<Upstream>;

/** Connection refused (the daemon is gone) or no route: the message never reached the server, so resending is safe. */
export function isUnreachable(error: unknown): boolean {
  const code = error && typeof error === "object" && "code" in error ? String((error as { code: unknown }).code) : "";
  if (["ECONNREFUSED", "ConnectionRefused", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "FailedToOpenSocket"].includes(code)) return true;
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
 * POSTs one message. A server that just died leaves its pooled keep-alive socket behind for a moment; a POST written
 * to it is reset at once, before the server could have read it. That case is retried on a fresh connection: a
 * live server gets the message normally, a dead one refuses the connection and the caller's recovery takes over. A
 * reset that comes later belongs to a request that was in flight, and stays an error.
 */
export async function postFresh(fetchFn: typeof fetch, url: string, init: RequestInit): Promise<Response> {
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
