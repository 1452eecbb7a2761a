import type { ConsolaInstance } from "consola";
import { msmEnv } from "../lib/env.ts";
import { LeanHttpTransport, type JsonBody } from "../lib/http/lean-transport.ts";
import { queueBody, type Expirable } from "../lib/http/sessions.ts";
import { MAX_BODY_BYTES } from "../lib/http/serve.ts";
import { errorResponse, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import type { SharedChild } from "./router.ts";
import type { ChildProfile, Client } from "./types.ts";
import type { WireLink } from "../lib/wire/server.ts";

/**
 * Most bytes a session may leave untaken (a client that stopped reading its streams) before it is cut off, so one
 * stalled session can neither grow the host without bound nor hold anything up for the others.
 * MSM_SESSION_QUEUE_BYTES overrides.
 */
export const SESSION_QUEUE_BYTES = msmEnv().sessionQueueBytes ?? MAX_BODY_BYTES;

/**
 * A JSON answer larger than this is handed to the server a slice at a time, so what its client leaves unread is
 * measured. A MiB: 64 KiB slices took a 5 MB answer ~1.1 s to pass (one pull per slice), a MiB ~0.1 s.
 */
const JSON_SLICE_BYTES = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The lean transport (a call that streams nothing is answered as one JSON body), its JSON answers metered by the session. */
export class HostTransport extends LeanHttpTransport {
  meter: (text: string) => JsonBody = (text) => text;

  protected override jsonBody(text: string): JsonBody {
    return this.meter(text);
  }
}

/**
 * One MCP session at the host per editor session (never one shared server object whose handlers the newest session
 * overwrites). What it is to the router — its project, capabilities, child — is here; how its messages reach its
 * proxy is its subclass's: HTTP (HttpHostSession, the SDK transport as the wire) or the line wire (WireHostSession).
 */
export abstract class HostSession implements Client {
  id = "";
  project = "";
  capabilities: Record<string, unknown> = {};
  initialized = false;
  child: SharedChild | undefined;
  /** Its child's key and profile before roots are known (a session with other roots moves to a child of its own). */
  key: string | undefined;
  profile: ChildProfile | undefined;
  /** Messages that wait while msm finds out which child the session belongs to (its roots). */
  waiting: JsonRpcMessage[] | undefined;
  closed = false;

  constructor(protected readonly log: ConsolaInstance) {}

  abstract send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void;
  abstract sendAnswerText(id: JsonRpcId, text: string): void;

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // A probe (`claude mcp list`, a health check) that never initialized is not news.
    if (this.id) this.log.info(`session ${this.id} closed: ${reason}`);
    else this.log.debug(`a request without a session ended: ${reason}`);
    this.child?.detach(this);
    this.ended(reason);
  }

  /** The wire's part of closing. */
  protected abstract ended(reason: string): void;
}

/**
 * A session on the line wire (lib/wire/server.ts): every message is a line on its proxy's connection, a large answer
 * written on as the server wrote it, byte parts and all. The connection bounds what the proxy leaves unread.
 */
export class WireHostSession extends HostSession {
  constructor(
    private readonly link: WireLink,
    log: ConsolaInstance,
  ) {
    super(log);
  }

  send(message: JsonRpcMessage): void {
    if (this.closed) return;
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (error) {
      // An answer that cannot be written (nested deeper than JSON.stringify goes): its request still gets an answer.
      if (message.method === undefined && message.id !== undefined && message.id !== null)
        this.link.answer(
          message.id,
          JSON.stringify(errorResponse(message.id, UPSTREAM_ERROR, `msm: the server's answer could not be passed on (${(error as Error).message})`)),
        );
      return;
    }
    if (message.method === undefined && message.id !== undefined && message.id !== null) this.link.answer(message.id, text);
    else this.link.send(text);
  }

  sendAnswerText(id: JsonRpcId, text: string): void {
    if (!this.closed) this.link.answer(id, text);
  }

  sendAnswerBytes(id: JsonRpcId, parts: Uint8Array[]): void {
    if (!this.closed) this.link.answerBytes(id, parts);
  }

  protected ended(reason: string): void {
    this.link.cut(reason);
  }
}

/**
 * A session over streamable HTTP. The SDK transport is only the wire — POST/GET/DELETE, SSE streams, session ids;
 * every message goes to the router of the session's child.
 */
export class HttpHostSession extends HostSession implements Expirable {
  private queuedBytes = 0;
  private readonly aborts = new Set<(reason: string) => void>();

  constructor(
    readonly transport: HostTransport,
    log: ConsolaInstance,
    private readonly overflow: (session: HttpHostSession) => void,
  ) {
    super(log);
    transport.meter = (text) => this.jsonBody(text);
  }

  send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void {
    if (this.closed) return;
    // Without an event store the SDK writes synchronously, so messages keep their order; a stream that is gone
    // (its client went away) rejects, and the message has nowhere to go.
    this.transport.send(message as never, relatedRequestId !== undefined ? { relatedRequestId } : undefined).catch((error: Error) => {
      this.log.debug(`session ${this.id}: ${error.message}`);
      // An answer that cannot be written (nested deeper than JSON.stringify goes): its request still gets an answer.
      if (error instanceof RangeError && message.method === undefined && message.id !== undefined && message.id !== null) {
        this.send(errorResponse(message.id, UPSTREAM_ERROR, `msm: the server's answer could not be passed on (${error.message})`), relatedRequestId);
      }
    });
  }

  sendAnswerText(id: JsonRpcId, text: string): void {
    if (this.closed) return;
    // Held as one JSON body or an open event stream: the text goes as it is. Anywhere else (the SDK's own path,
    // a request that asked for progress), parsed and sent the usual way.
    if (this.transport.answerText(id as never, text)) return;
    let parsed: JsonRpcMessage;
    try {
      parsed = JSON.parse(text) as JsonRpcMessage;
    } catch (error) {
      parsed = errorResponse(id, UPSTREAM_ERROR, `msm: the server's answer could not be read (${(error as Error).message})`);
    }
    this.send(parsed);
  }

  /** Measures what this session's client has not taken yet; too much cuts it off. */
  watch(response: Response, streamDone: () => void): Response {
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      streamDone();
      return response;
    }
    let abort: (reason: string) => void = () => {};
    const queued = queueBody(response, {
      queued: (delta) => this.queue(delta),
      end: () => {
        this.aborts.delete(abort);
        streamDone();
      },
    });
    abort = queued.abort;
    this.aborts.add(abort);
    return queued.response;
  }

  /**
   * The body of an answer that goes out as JSON, counted against the same bound as the event streams. A small one goes
   * as it is: the server takes it whole at once, as it takes an event stream's chunk. A large one is handed over a
   * slice at a time as the client reads, so what it leaves unread stays here, measured, not in the server's buffers.
   */
  private jsonBody(text: string): JsonBody {
    if (text.length <= JSON_SLICE_BYTES) return text;
    return this.meteredBody([encoder.encode(text)]);
  }

  /** A large answer as its server wrote it (byte pieces, see router.ts): slices of its pieces, never joined. */
  sendAnswerBytes(id: JsonRpcId, parts: Uint8Array[]): void {
    if (this.closed) return;
    if (this.transport.answerBody(id as never, this.meteredBody(parts), parts)) return;
    this.sendAnswerText(id, decoder.decode(Buffer.concat(parts)));
  }

  private meteredBody(parts: Uint8Array[]): ReadableStream<Uint8Array> {
    let total = 0;
    for (const part of parts) total += part.byteLength;
    let index = 0;
    let offset = 0;
    let sent = 0;
    let done = false;
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      this.aborts.delete(abort);
      this.queue(sent - total);
    };
    // Ended, not errored (see queueBody): the client finds the answer cut short and reports it.
    const abort = (_reason: string) => {
      finish();
      try {
        controller?.close();
      } catch {}
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
        },
        pull: (c) => {
          if (done) return;
          const part = parts[index]!;
          const slice = part.subarray(offset, Math.min(offset + JSON_SLICE_BYTES, part.byteLength));
          offset += slice.byteLength;
          if (offset >= part.byteLength) {
            index++;
            offset = 0;
          }
          sent += slice.byteLength;
          this.queue(-slice.byteLength);
          c.enqueue(slice);
          if (index < parts.length) return;
          finish();
          c.close();
        },
        cancel: finish,
      },
      { highWaterMark: 0 },
    );
    this.aborts.add(abort);
    this.queue(total);
    return body;
  }

  private queue(delta: number): void {
    this.queuedBytes += delta;
    if (this.queuedBytes > SESSION_QUEUE_BYTES && !this.closed) this.overflow(this);
  }

  protected ended(reason: string): void {
    for (const abort of [...this.aborts]) abort(reason);
    void this.transport.close().catch(() => {});
  }
}
