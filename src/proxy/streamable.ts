import { Bridge, backoff, errorText, oneLine, sleep, type BridgeOptions } from "./bridge.ts";
import { isRequest, parseServerText, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { readSse } from "../lib/jsonrpc/sse.ts";
import { envelopeVersion, revisionHeaders, ToolHeaders } from "./revision.ts";
import { isUnreachable, NO_TIMEOUT, postFresh, sessionGone } from "./upstream.ts";

/**
 * How long the GET stream may take to open before notifications/initialized goes anyway. msm's daemons answer it
 * at once (lib/serve.ts primes event streams); a foreign server that sends no headers until its first event would
 * otherwise hold the session up.
 */
export const STREAM_OPEN_WAIT_MS = 300;
/** A server that keeps refusing the GET stream this many times in a row has none to offer. */
const STREAM_MAX_FAILURES = 20;

/** Resumed answer streams in a row that may end with no new event before the request is given up on. */
const RESUME_MAX_FRUITLESS = 3;

const noop = () => {};

/**
 * Streamable HTTP client side of the bridge (MCP 2025-03-26 … 2025-11-25). Every editor message is POSTed; answers
 * come back as JSON or as an SSE stream that may carry progress, logging and server→client requests before the
 * response. Requests run concurrently, so a long tool call never holds up the next one. A GET stream carries what
 * the server says unprompted. With `plain` (transport `http`) there is no GET stream: one POST, one answer.
 */
export class StreamableBridge extends Bridge {
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private stream: AbortController | undefined;
  private lastEventId: string | undefined;
  /** GETs resuming request streams; aborted with the session. */
  private readonly resumptions = new Set<AbortController>();
  /** Tool arguments the 2026-07-28 revision mirrors in `Mcp-Param-*` headers, learned from tools/list answers. */
  private readonly toolHeaders = new ToolHeaders();

  constructor(
    options: BridgeOptions,
    private readonly plain = false,
  ) {
    super(options);
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...this.upstream!.headers, ...extra };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    // Spec 2025-06-18 (transports): after initialization the client MUST send the negotiated version on every request.
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  protected post(message: JsonRpcMessage): Promise<Response | undefined> {
    return this.httpPost(message);
  }

  /** POSTs one message on HTTP. */
  protected httpPost(message: JsonRpcMessage): Promise<Response> {
    // Even plain `http` offers both types: spec-following servers refuse a POST that does not (406), and an SSE
    // answer is read the same way.
    const accept = "application/json, text/event-stream";
    const init: RequestInit = {
      method: "POST",
      headers: { ...this.headers({ "content-type": "application/json", accept }), ...revisionHeaders(message, this.toolHeaders) },
      body: this.body(message),
      ...NO_TIMEOUT,
    };
    return postFresh(this.fetch, this.upstream!, this.upstream!.url, init);
  }

  protected connected(): boolean {
    return this.upstream !== undefined;
  }

  protected override beforePost(message: JsonRpcMessage): void {
    // A fresh initialize starts a fresh session: no stale id or version may ride along.
    if (message.method === "initialize") {
      this.sessionId = undefined;
      this.protocolVersion = undefined;
    }
  }

  protected async answer(response: Response, message: JsonRpcMessage): Promise<"done" | "session-gone"> {
    const initializing = message.method === "initialize";
    if ((response.status === 404 || response.status === 400) && !initializing && this.sessionId) {
      const text = await response.text().catch(() => "");
      if (sessionGone(response.status, text)) return "session-gone";
      this.answerHttpError(message, response.status, text);
      return "done";
    }
    if (initializing && response.ok) this.sessionId = response.headers.get("mcp-session-id") ?? undefined;
    await this.consume(response, message, initializing);
    if (initializing && this.sessionId) await this.openStream(this.generation);
    return "done";
  }

  /** Reads one POST's answer: 202, JSON, or an SSE stream of related messages ending with the response. */
  private async consume(response: Response, message: JsonRpcMessage, initializing: boolean): Promise<void> {
    // What the proxy itself learns from the answer, before the editor gets it.
    const answer = (text: string) => {
      const messages = parseServerText(text);
      if (!messages) return void this.deliverText(text);
      let raw = oneLine(text, messages);
      for (const m of messages) {
        if (m.id !== message.id) continue;
        const version = (m.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
        if (initializing && typeof version === "string") this.protocolVersion = version;
        if (message.method === "tools/list") {
          const invalid = this.toolHeaders.learn(m.result, envelopeVersion(message) !== undefined);
          if (invalid.length) {
            this.log.warn(`left out tools with invalid x-mcp-header declarations: ${invalid.join(", ")}`);
            // The editor gets the list without them, not the server's text.
            raw = undefined;
          }
        }
      }
      for (const m of messages) this.deliver(m, raw);
    };
    if (response.status === 202 || response.status === 204) {
      await response.body?.cancel().catch(noop);
      if (isRequest(message)) this.fail(message, "msm: the MCP server accepted the request but sent no answer");
      return;
    }
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream") && response.body) {
      await this.readAnswer(response.body, message, answer);
      return;
    }
    let text = "";
    try {
      await this.room();
      text = await response.text();
    } catch (error) {
      this.fail(message, `msm: lost the connection while reading the answer (${errorText(error)})`);
      return;
    }
    if (!response.ok) {
      this.answerHttpError(message, response.status, text);
      return;
    }
    if (text.trim() !== "") answer(text);
    if (this.isOwed(message)) this.fail(message, "msm: the MCP server sent no answer to this request");
  }

  /**
   * Reads a request's event stream until its answer. Spec 2025-11-25 (transports, resumability): a server that has
   * sent an event id may close the stream before the answer (to free a connection during a long call) and expects
   * the client to GET with `Last-Event-ID` after the `retry` delay it sent; the stream, missed events first, goes on
   * there. So a stream that ends unanswered is resumed, and the request fails only when resuming is impossible: no
   * event id was ever sent, the server is gone or refuses, or resumed streams keep ending with nothing new.
   */
  private async readAnswer(first: ReadableStream<Uint8Array>, message: JsonRpcMessage, answer: (text: string) => void): Promise<void> {
    const generation = this.generation;
    let body: ReadableStream<Uint8Array> | undefined = first;
    let lastEventId: string | undefined;
    let retryMs: number | undefined;
    let fruitless = 0;
    let why = "the stream ended before the answer";
    for (let resumed = false; ; resumed = true) {
      let progressed = false;
      if (body) {
        try {
          for await (const event of readSse(body)) {
            if (event.id !== undefined && event.id !== lastEventId) {
              lastEventId = event.id;
              progressed = true;
            }
            // WHATWG: `retry` sets the reconnection time for the rest of the connection, not just one event.
            if (event.retry !== undefined) retryMs = event.retry;
            if (event.event === "message" && event.data !== "") answer(event.data);
            await this.room();
            // A resumed GET may stay open as the server's general stream once the answer is in: stop reading it.
            if (resumed && !this.isOwed(message)) break;
          }
        } catch (error) {
          why = `the stream broke (${errorText(error)})`;
          this.log.debug(`answer stream for ${message.method ?? message.id} broke: ${errorText(error)}`);
        }
        if (resumed) await body.cancel().catch(noop);
      }
      if (!this.isOwed(message)) return;
      fruitless = progressed ? 0 : fruitless + 1;
      const stale = generation !== this.generation || this.closing;
      if (lastEventId === undefined || stale || fruitless > RESUME_MAX_FRUITLESS) {
        // The daemon died (or dropped the stream) while handling the request, and there is nothing to resume.
        this.log.debug(`cannot resume the answer to ${message.method ?? message.id}: ${why}`);
        this.fail(message, "msm: the MCP server stopped while handling this request (it may have restarted); the request may not have completed — retry it");
        return;
      }
      // Spec: the client MUST wait the server's `retry` before reconnecting (checked by the conformance suite).
      await sleep(retryMs ?? backoff(fruitless));
      if (!this.isOwed(message)) return;
      body = undefined;
      const controller = new AbortController();
      this.resumptions.add(controller);
      try {
        const headers = this.headers({ accept: "text/event-stream", "last-event-id": lastEventId });
        const response = await this.fetch(this.upstream!.url, { method: "GET", headers, signal: controller.signal, ...NO_TIMEOUT });
        const type = response.headers.get("content-type") ?? "";
        if (response.ok && type.includes("text/event-stream") && response.body) {
          this.log.debug(`resumed the answer to ${message.method ?? message.id} after event ${lastEventId}`);
          body = response.body;
        } else {
          const text = await response.text().catch(() => "");
          why = `resuming was refused with HTTP ${response.status} ${text.slice(0, 200)}`.trim();
          // 405: no GET streams at all; 404/400: the session is gone. Neither will change by asking again.
          if (response.status === 405 || sessionGone(response.status, text)) fruitless = RESUME_MAX_FRUITLESS;
        }
      } catch (error) {
        why = `resuming failed (${errorText(error)})`;
        if (isUnreachable(error) || controller.signal.aborted) fruitless = RESUME_MAX_FRUITLESS;
      } finally {
        this.resumptions.delete(controller);
      }
    }
  }

  /** A non-2xx answer: pass on a JSON-RPC error the server gave (with this request's id), else say what happened. */
  private answerHttpError(message: JsonRpcMessage, status: number, text: string): void {
    const parsed = parseServerText(text)?.[0];
    if (parsed?.error && isRequest(message) && envelopeVersion(message) !== undefined) {
      // 2026-07-28: header, version and capability errors come as HTTP 400 with a JSON-RPC error the client acts on
      // (an unsupported version names the supported ones, to continue with): pass it through unchanged.
      this.deliver({ jsonrpc: "2.0", id: message.id, error: parsed.error });
      return;
    }
    if (parsed?.error && isRequest(message)) {
      const error = parsed.error as { code?: number; message?: string };
      this.fail(message, `msm: the MCP server answered HTTP ${status}: ${error.message ?? text.slice(0, 200)}`);
      return;
    }
    this.fail(message, `msm: the MCP server answered HTTP ${status} ${text.slice(0, 200)}`.trim());
  }

  /** Forgets the HTTP session: its streams aborted, its id and version gone. */
  protected forgetSession(): void {
    this.stream?.abort();
    for (const resumption of this.resumptions) resumption.abort();
    this.stream = undefined;
    this.sessionId = undefined;
    this.protocolVersion = undefined;
    this.lastEventId = undefined;
  }

  protected async reopen(generation: number): Promise<void> {
    this.forgetSession();
    if (!this.established) return;
    const replay = this.replayInitialize();
    let response: Response;
    try {
      response = await this.httpPost(replay.message);
    } catch (error) {
      this.forgetReplay(replay.message.id);
      throw error;
    }
    if (!response.ok) {
      this.forgetReplay(replay.message.id);
      await response.body?.cancel().catch(noop);
      throw new Error(`initialize answered HTTP ${response.status}`);
    }
    this.sessionId = response.headers.get("mcp-session-id") ?? undefined;
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream") && response.body) {
      for await (const event of readSse(response.body)) if (event.event === "message" && event.data) this.deliverText(event.data);
    } else {
      this.deliverText(await response.text());
    }
    const answer = await Promise.race([replay.answer, Promise.resolve(undefined)]);
    this.forgetReplay(replay.message.id);
    if (!answer?.result) throw new Error(`initialize was refused: ${JSON.stringify(answer?.error ?? "no answer")}`);
    const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
    if (typeof version === "string") this.protocolVersion = version;
    await this.openStream(generation);
    if (this.initializedMessage) {
      const ack = await this.httpPost(this.initializedMessage);
      await ack.body?.cancel().catch(noop);
    }
  }

  /**
   * The GET stream carries unsolicited server messages (list_changed, resources/updated, roots/list requests). It is
   * opened before notifications/initialized is forwarded, since servers often speak right after it, and re-opened
   * when it drops, with Last-Event-ID when the server numbers its events (spec: resumability). Resolves once the
   * server has answered the GET (or after STREAM_OPEN_WAIT_MS).
   */
  private openStream(generation: number): Promise<void> {
    if (this.plain || !this.sessionId || this.closing) return Promise.resolve();
    this.stream?.abort();
    const controller = new AbortController();
    this.stream = controller;
    let opened = noop;
    const ready = new Promise<void>((resolve) => {
      opened = resolve;
      setTimeout(resolve, STREAM_OPEN_WAIT_MS).unref?.();
    });
    const current = () => !controller.signal.aborted && generation === this.generation && !this.closing;
    void (async () => {
      for (let failures = 0; current() && failures < STREAM_MAX_FAILURES; ) {
        let retryMs: number | undefined;
        try {
          const headers = this.headers({ accept: "text/event-stream" });
          if (this.lastEventId) headers["last-event-id"] = this.lastEventId;
          const response = await this.fetch(this.upstream!.url, { method: "GET", headers, signal: controller.signal, ...NO_TIMEOUT });
          opened();
          if (response.status === 405) {
            // Spec: a server that offers no GET stream answers 405; it has nothing unprompted to say.
            await response.body?.cancel().catch(noop);
            return;
          }
          if (response.status === 404 || response.status === 400) {
            const text = await response.text().catch(() => "");
            if (!sessionGone(response.status, text)) return;
            if (current()) void this.recover(generation, "stream").catch((error) => this.log.debug(`event stream not reopened: ${errorText(error)}`));
            return;
          }
          if (!response.ok || !response.body) {
            await response.body?.cancel().catch(noop);
            failures++;
          } else {
            for await (const event of readSse(response.body)) {
              failures = 0;
              if (event.id !== undefined) this.lastEventId = event.id;
              if (event.retry !== undefined) retryMs = event.retry;
              if (event.event === "message" && event.data !== "") this.deliverText(event.data);
              await this.room();
            }
          }
        } catch (error) {
          opened();
          if (!current()) return;
          if (isUnreachable(error)) {
            // The daemon is gone: make a new session (which opens its own stream) if a daemon is (re)starting anyway;
            // a daemon stopped on purpose stays stopped until the editor's next request.
            void this.recover(generation, "stream").catch((e) => this.log.debug(`event stream not reopened: ${errorText(e)}`));
            return;
          }
          this.log.debug(`GET stream dropped: ${errorText(error)}`);
        }
        failures++;
        await sleep(retryMs ?? backoff(failures));
      }
    })();
    return ready;
  }

  protected async shutdown(deleteTimeoutMs: number): Promise<void> {
    this.stream?.abort();
    for (const resumption of this.resumptions) resumption.abort();
    if (!this.sessionId || !this.upstream || this.plain) return;
    // Spec (session management): a client that no longer needs the session SHOULD DELETE it.
    const response = await this.fetch(this.upstream.url, {
      method: "DELETE",
      headers: this.headers({}),
      signal: AbortSignal.timeout(deleteTimeoutMs),
    });
    await response.body?.cancel().catch(noop);
  }
}
