import type { ResolvedTarget } from "./config.ts";
import type { LockInfo } from "./lock.ts";

/** One health check may take this long before the daemon counts as not answering. */
export const HEALTH_TIMEOUT_MS = 1_000;

/** "Connection: close" so a probe never leaves a pooled socket behind that idle shutdown would count as a session. */
const CLOSE = { connection: "close" };

/** msm's own daemons and the supervisor answer `GET /health` without a token. */
export async function isHealthy(port: number, timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { headers: CLOSE, keepalive: false, signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Is the daemon a lock describes serving? msm's own daemons have /health; an external server is asked
 * at its MCP endpoint: "http" accepts any HTTP answer below 500 (a GET without a session is usually 400 or 405,
 * which still proves the server is up), "mcp" demands a successful `initialize` and deletes the session after.
 */
export async function probe(target: ResolvedTarget, lock: Pick<LockInfo, "port" | "path">, timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
  if (lock.port <= 0) return false;
  // msm's own daemons (memory, a stdio host) answer /health.
  if (target.kind !== "external") return isHealthy(lock.port, timeoutMs);
  const url = `http://127.0.0.1:${lock.port}${lock.path ?? target.path}`;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    if (target.health === "mcp" && target.transport === "streamable-http") return await mcpInitialize(url, signal);
    const response = await fetch(url, { headers: { ...CLOSE, accept: "application/json, text/event-stream" }, keepalive: false, signal });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}

/**
 * Is the daemon's event loop answering at all? The supervisor's watch asks every few seconds, forever, so this must
 * cost the server nothing: msm's daemons answer /health; an external server gets an OPTIONS request at its
 * endpoint, which opens no SSE stream and no MCP session, and any HTTP answer (even an error status) proves it alive.
 * A frozen process still accepts connections (the kernel queues them), so only an answer counts.
 */
export async function answers(target: ResolvedTarget, lock: Pick<LockInfo, "port" | "path">, timeoutMs: number): Promise<boolean> {
  if (lock.port <= 0) return false;
  if (target.kind === "builtin") return isHealthy(lock.port, timeoutMs);
  try {
    const response = await fetch(`http://127.0.0.1:${lock.port}${lock.path ?? target.path}`, {
      method: "OPTIONS",
      headers: CLOSE,
      keepalive: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function mcpInitialize(url: string, signal: AbortSignal): Promise<boolean> {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...CLOSE, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "msm-health", version: "1" } },
    }),
    keepalive: false,
    signal,
  });
  const text = await response.text();
  const session = response.headers.get("mcp-session-id");
  if (session) {
    await fetch(url, { method: "DELETE", headers: { ...CLOSE, "mcp-session-id": session }, keepalive: false, signal })
      .then((r) => r.body?.cancel())
      .catch(() => {});
  }
  return response.ok && text.includes('"result"');
}
