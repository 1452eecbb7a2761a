import type { Server } from "bun";
import { errnoCode } from "./errors.ts";

/** msm promises messages of at least 16 MiB; the SDK transport's default body cap is 4 MiB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Serves `fetch` on 127.0.0.1 only. The preferred port is tried first; if a foreign process holds it the OS picks a
 * free one (no fixed port is ever required: the lock file says which was taken). idleTimeout 0 because Bun closes
 * idle connections after 10 s by default, which kills long tool calls and the GET event stream.
 */
export function serveLoopback(fetch: (request: Request, server: Server<unknown>) => Response | Promise<Response>, preferredPort: number): Server<unknown> {
  const options = { hostname: "127.0.0.1", idleTimeout: 0, maxRequestBodySize: MAX_BODY_BYTES, fetch };
  if (preferredPort > 0) {
    try {
      return Bun.serve({ ...options, port: preferredPort });
    } catch (error) {
      if (errnoCode(error) !== "EADDRINUSE" && !String(error).includes("in use")) throw error;
    }
  }
  return Bun.serve({ ...options, port: 0 });
}
