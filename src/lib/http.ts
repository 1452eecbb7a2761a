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
 * Every msm endpoint except `/health` demands `Authorization: Bearer <token>` (401) and refuses a present,
 * non-loopback `Origin` (403, DNS-rebinding and drive-by browser protection per the MCP transport spec).
 */
export function guard(token: string): MiddlewareHandler {
  return async (c, next) => {
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
