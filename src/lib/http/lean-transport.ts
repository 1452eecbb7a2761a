import { WebStandardStreamableHTTPServerTransport, type HandleRequestOptions } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";

/**
 * The SDK's streamable HTTP transport, with a lean path for requests that turn out not to stream.
 *
 * The SDK answers every POSTed request with a new SSE stream (a ReadableStream, a keep-alive timer, the stream primed
 * with a comment by lib/serve.ts, chunked transfer) even when the answer is one message — most of a tool call's cost
 * on the daemon, and more for Node's fetch than for Bun's. Its `enableJsonResponse` is no way out: it silently drops
 * every notification and server→client request made while a request runs. So the choice is made per request, and
 * as late as possible:
 *
 * - a single request that asked for no progress (no `_meta.progressToken`), after initialize, from a client that
 *   accepts both types, is held: if its answer is the first message about it, the answer goes out as one
 *   `application/json` body (always so for the memory daemon's tools, whose `resources/updated` goes on the GET
 *   stream, and for most calls a host forwards to its child); if a
 *   notification or a server→client request about it comes first, the answer becomes an SSE stream that carries
 *   those messages and then the response, as the SDK would have sent them;
 * - everything else — initialize, batches, requests with a progress token, notifications, responses, GET, DELETE,
 *   and any malformed request (so the SDK gives its usual errors) — takes the SDK's own path.
 */
export class LeanHttpTransport extends WebStandardStreamableHTTPServerTransport {
  /** Held requests awaiting their answer, by JSON-RPC id. */
  private readonly pending = new Map<RequestId, Held>();
  private closing = false;

  override async handleRequest(req: Request, options?: HandleRequestOptions): Promise<Response> {
    if (!this.mayHold(req, options)) return super.handleRequest(req, options);
    // Read as bytes (decoded just as req.text() would): an owner may pass a big body on to another thread as is.
    const raw = new Uint8Array(await req.arrayBuffer());
    const text = decoder.decode(raw);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      // The body is read: hand the SDK a copy so it reports the parse error its own way.
      return super.handleRequest(new Request(req.url, { method: "POST", headers: req.headers, body: text }), options);
    }
    if (!isLeanRequest(message) || this.pending.has(message.id) || this.closing) {
      const response = await super.handleRequest(req, { ...options, parsedBody: message });
      this.releaseCancelled(message);
      return response;
    }
    return new Promise<Response>((resolve) => {
      this.pending.set(message.id, { resolve });
      this.dispatch(message as JSONRPCRequest, raw, { authInfo: options?.authInfo, requestInfo: lazyRequestInfo(req) });
    });
  }

  /**
   * Hands a held request to the server. An owner may instead answer it itself, from `raw` (the body as received),
   * with `answer`.
   */
  protected dispatch(message: JSONRPCRequest, _raw: Uint8Array, extra: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }

  /**
   * Answers a held request with a JSON-RPC response already serialised as UTF-8 JSON (made on another thread, say;
   * `jsonBody` is not consulted). False when nobody waits for it any more (cancelled, or the session closed and
   * answered it with an error).
   */
  protected answer(id: RequestId, json: Uint8Array): boolean {
    const held = this.pending.get(id);
    if (!held) return false;
    this.pending.delete(id);
    if (held.stream) {
      try {
        held.stream.enqueue(encoder.encode("event: message\ndata: "));
        held.stream.enqueue(json);
        held.stream.enqueue(encoder.encode("\n\n"));
      } catch {}
      closeStream(held.stream);
    } else {
      // As a one-chunk stream: Bun copies a byte array given as the body itself (~8 ms for 8 MiB), never a chunk.
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(json);
          controller.close();
        },
      });
      held.resolve(new Response(body, { status: 200, headers: this.headers({ "content-type": "application/json" }) }));
    }
    return true;
  }

  /**
   * Answers a held request with a response already written as JSON text (a large answer passed on as its server
   * wrote it, its id rewritten). False when no held request has this id: the caller sends it the usual way.
   */
  answerText(id: RequestId, text: string): boolean {
    const held = this.pending.get(id);
    if (!held) return false;
    this.pending.delete(id);
    if (held.stream) {
      try {
        held.stream.enqueue(encoder.encode(`event: message\ndata: ${text}\n\n`));
      } catch {}
      closeStream(held.stream);
    } else held.resolve(new Response(this.jsonBody(text), { status: 200, headers: this.headers({ "content-type": "application/json" }) }));
    return true;
  }

  /**
   * Answers a held request with a response already written as JSON bytes (a large answer passed on as its server
   * wrote it): `body` for a JSON answer, `parts` for an event stream. False when no held request has this id.
   */
  answerBody(id: RequestId, body: ReadableStream<Uint8Array>, parts: Uint8Array[]): boolean {
    const held = this.pending.get(id);
    if (!held) return false;
    this.pending.delete(id);
    if (held.stream) {
      void body.cancel().catch(() => {});
      try {
        held.stream.enqueue(encoder.encode("event: message\ndata: "));
        for (const part of parts) held.stream.enqueue(part);
        held.stream.enqueue(encoder.encode("\n\n"));
      } catch {}
      closeStream(held.stream);
    } else held.resolve(new Response(body, { status: 200, headers: this.headers({ "content-type": "application/json" }) }));
    return true;
  }

  override async send(message: JSONRPCMessage, options?: { relatedRequestId?: RequestId }): Promise<void> {
    if ("id" in message && ("result" in message || "error" in message)) {
      const held = this.pending.get(message.id as RequestId);
      if (held) {
        this.pending.delete(message.id as RequestId);
        if (held.stream) {
          writeEvent(held.stream, message);
          closeStream(held.stream);
        } else held.resolve(this.json(message));
        return;
      }
    } else if (options?.relatedRequestId !== undefined) {
      const held = this.pending.get(options.relatedRequestId);
      if (held) {
        held.stream ??= this.openStream(held);
        writeEvent(held.stream, message);
        return;
      }
    }
    return super.send(message, options);
  }

  override async close(): Promise<void> {
    this.closing = true;
    // An answer that can no longer come is an error, not silence: a client waiting on it would hang.
    for (const [id, held] of this.pending) {
      const error = { jsonrpc: "2.0" as const, id, error: { code: -32000, message: "The session closed before the request was answered" } };
      if (held.stream) {
        writeEvent(held.stream, error);
        closeStream(held.stream);
      } else held.resolve(this.json(error));
    }
    this.pending.clear();
    return super.close();
  }

  /**
   * A cancelled request gets no answer from the server (spec, cancellation); its held HTTP request is ended here
   * (202, nothing to say) rather than left open for good.
   */
  private releaseCancelled(message: unknown): void {
    const m = message as { method?: unknown; params?: { requestId?: RequestId } } | null;
    if (m?.method !== "notifications/cancelled" || m.params?.requestId === undefined) return;
    const held = this.pending.get(m.params.requestId);
    if (!held) return;
    this.pending.delete(m.params.requestId);
    if (held.stream) closeStream(held.stream);
    else held.resolve(new Response(null, { status: 202 }));
  }

  /** Only POSTs of an initialized session, with the headers the SDK would accept; the body decides the rest. */
  private mayHold(req: Request, options: HandleRequestOptions | undefined): boolean {
    if (req.method !== "POST" || this.closing || this.sessionId === undefined || options?.parsedBody !== undefined) return false;
    if (req.headers.get("mcp-session-id") !== this.sessionId) return false;
    const accept = req.headers.get("accept") ?? "";
    if (!accept.includes("application/json") || !accept.includes("text/event-stream")) return false;
    const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") return false;
    const version = req.headers.get("mcp-protocol-version");
    return version === null || SUPPORTED_PROTOCOL_VERSIONS.includes(version);
  }

  /** A held request streams after all: answer it with an event stream, as the SDK's own path would have. */
  private openStream(held: Held): ReadableStreamDefaultController<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
    });
    held.resolve(
      new Response(body, {
        status: 200,
        headers: this.headers({ "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", connection: "keep-alive" }),
      }),
    );
    return controller;
  }

  private json(body: unknown): Response {
    return new Response(this.jsonBody(serialise(body)), { status: 200, headers: this.headers({ "content-type": "application/json" }) });
  }

  /** The body of a held request's JSON answer; an owner that bounds what its clients leave unread meters it here. */
  protected jsonBody(text: string): JsonBody {
    return text;
  }

  private headers(base: Record<string, string>): Record<string, string> {
    return this.sessionId === undefined ? base : { ...base, "mcp-session-id": this.sessionId };
  }
}

/** What a JSON answer is sent as: the text itself, or a stream of it. */
export type JsonBody = string | ReadableStream<Uint8Array>;

interface Held {
  resolve: (response: Response) => void;
  /** Set once a message about the request came before its answer. */
  stream?: ReadableStreamDefaultController<Uint8Array>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One SSE event in the SDK's format; a stream the client already closed just drops it. */
function writeEvent(stream: ReadableStreamDefaultController<Uint8Array>, message: unknown): void {
  try {
    stream.enqueue(encoder.encode(`event: message\ndata: ${serialise(message)}\n\n`));
  } catch {}
}

/**
 * A message as JSON. An answer nested deeper than JSON.stringify goes (a stack overflow) becomes an error answer to
 * the same request: its client must hear something.
 */
export function serialise(message: unknown): string {
  try {
    return JSON.stringify(message);
  } catch (error) {
    const id = (message as { id?: unknown } | null)?.id;
    if (typeof id !== "string" && typeof id !== "number") throw error;
    return JSON.stringify({
      jsonrpc: "2.0",
      id,
      error: { code: -32000, message: `msm: the server's answer could not be passed on (${(error as Error).message})` },
    });
  }
}

function closeStream(stream: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    stream.close();
  } catch {}
}

interface LeanRequest {
  jsonrpc: "2.0";
  id: RequestId;
  method: string;
  params?: { _meta?: { progressToken?: unknown } };
}

/** One request (not a batch, not initialize) that did not ask for progress; the server's handler validates the rest. */
function isLeanRequest(message: unknown): message is LeanRequest {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return false;
  const m = message as Partial<LeanRequest>;
  if (m.jsonrpc !== "2.0" || typeof m.method !== "string" || m.method === "initialize") return false;
  if (typeof m.id !== "string" && !(typeof m.id === "number" && Number.isInteger(m.id))) return false;
  if (m.params !== undefined && (typeof m.params !== "object" || m.params === null)) return false;
  return m.params?._meta?.progressToken === undefined;
}

/** The SDK builds a header object and a URL for every message; handlers that never look should not pay for them. */
function lazyRequestInfo(req: Request) {
  let headers: Record<string, string> | undefined;
  let url: URL | undefined;
  return {
    get headers() {
      return (headers ??= Object.fromEntries(req.headers.entries()));
    },
    get url() {
      return (url ??= new URL(req.url));
    },
  };
}
