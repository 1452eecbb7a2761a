import { timingSafeEqual } from "node:crypto";
import { Hono, type MiddlewareHandler } from "hono";

/** Hostnames an `Origin` may name: a browser page on another host must never drive a local daemon. */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackOrigin(origin: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The names this server answers to: `127.0.0.1:<port>` or `localhost:<port>`. A page on a DNS-rebound name
 * (evil.example resolving to 127.0.0.1) still sends `Host: evil.example:<port>`, so refusing it blocks the attack
 * even where a browser sends no Origin. `port` is the listening port; undefined (an in-process `app.request`) checks
 * the name alone. A request with no Host at all is no browser's and passes.
 */
export function isOwnHost(host: string | undefined, port: number | undefined): boolean {
  if (host === undefined) return true;
  const match = /^(127\.0\.0\.1|localhost):(\d{1,5})$/i.exec(host.trim());
  return match !== null && (port === undefined || Number(match[2]) === port);
}

/**
 * Every msm endpoint refuses a foreign `Host` (403, before anything else: `/health` says nothing to it either) and a
 * present, non-loopback `Origin` (403, DNS-rebinding and drive-by browser protection per the MCP transport spec);
 * everything but `/health` demands `Authorization: Bearer <token>` (401).
 */
export function guard(token: string): MiddlewareHandler {
  return async (c, next) => {
    // Under Bun.serve, Hono's env is the server (lib/serve.ts passes it), which knows the port it listens on.
    const port = (c.env as { port?: unknown } | undefined)?.port;
    if (!isOwnHost(c.req.header("host"), typeof port === "number" ? port : undefined)) {
      return c.json({ error: "forbidden host" }, 403);
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !isLoopbackOrigin(origin)) {
      return c.json({ error: "forbidden origin" }, 403);
    }
    if (c.req.path === "/health") return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !sameSecret(match[1]!.trim(), token)) {
      return c.json({ error: "missing or wrong bearer token (see $MSM_HOME/token)" }, 401);
    }
    return next();
  };
}

/**
 * The base app every msm HTTP server starts from: guard first, then an uninformative `/health`. `before` mounts
 * routes that bring their own, stricter guard (the supervisor's dashboard, which browsers reach with a cookie).
 */
export function createBaseApp(token: string, before?: (app: Hono) => void): Hono {
  const app = new Hono();
  before?.(app);
  app.use("*", guard(token));
  app.get("/health", (c) => c.text("ok"));
  return app;
}
