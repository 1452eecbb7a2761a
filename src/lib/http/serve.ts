import type { Server } from "bun";
import { errnoCode } from "../errors.ts";

/** msm promises messages of at least 16 MiB; the SDK transport's default body cap is 4 MiB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Serves `fetch` on 127.0.0.1 only. The preferred port is tried first; if a foreign process holds it the OS picks a
 * free one (no fixed port is ever required: the lock file says which was taken). idleTimeout 0 because Bun closes
 * idle connections after 10 s by default, which kills long tool calls and the GET event stream.
 */
export function serveLoopback(fetch: (request: Request, server: Server<unknown>) => Response | Promise<Response>, preferredPort: number): Server<unknown> {
  const primed = async (request: Request, server: Server<unknown>) => primeEventStream(await fetch(request, server));
  const options = { hostname: "127.0.0.1", idleTimeout: 0, maxRequestBodySize: MAX_BODY_BYTES, fetch: primed };
  if (preferredPort > 0) {
    try {
      return Bun.serve({ ...options, port: preferredPort });
    } catch (error) {
      if (errnoCode(error) !== "EADDRINUSE" && !String(error).includes("in use")) throw error;
    }
  }
  return Bun.serve({ ...options, port: 0 });
}

const PRIME = new TextEncoder().encode(": stream open\n\n");

/**
 * Bun.serve holds back the end of a streamed response's header block until the body's first chunk, so an MCP event
 * stream (the GET stream, a POST answered with SSE) looks unanswered to every client until the server's first event
 * — a proxy waiting for its GET stream to open would wait for nothing. An SSE comment, which every client ignores,
 * sends the headers at once.
 */
export function primeEventStream(response: Response): Response {
  if (!response.body || !(response.headers.get("content-type") ?? "").includes("text/event-stream")) return response;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        controller.enqueue(PRIME);
      },
    }),
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
