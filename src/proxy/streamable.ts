import { Bridge, backoff, errorText, sleep, type BridgeOptions } from "./bridge.ts";
import { isRequest, parseServerText, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { readSse } from "../lib/jsonrpc/sse.ts";
import { isUnreachable, NO_TIMEOUT, postFresh, sessionGone } from "./upstream.ts";

/**
 * How long the GET stream may take to open before notifications/initialized goes anyway. msm's daemons answer it
 * at once (lib/serve.ts primes event streams); a foreign server that sends no headers until its first event would
 * otherwise hold the session up.
 */
export const STREAM_OPEN_WAIT_MS = 300;
/** A server that keeps refusing the GET stream this many times in a row has none to offer. */
const STREAM_MAX_FAILURES = 20;

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

  private post(message: JsonRpcMessage): Promise<Response> {
    // Even plain `http` offers both types: spec-following servers refuse a POST that does not (406), and an SSE
    // answer is read the same way.
    const accept = "application/json, text/event-stream";
    const init: RequestInit = {
      method: "POST",
      headers: this.headers({ "content-type": "application/json", accept }),
      body: JSON.stringify(message),
      ...NO_TIMEOUT,
    };
    return postFresh(this.fetch, this.upstream!, this.upstream!.url, init);
  }

  protected async forward(message: JsonRpcMessage, lifecycle: boolean): Promise<void> {
    const initializing = message.method === "initialize";
    const since = Date.now();
    for (let failures = 0; ; ) {
      if (!lifecycle) await this.afterBarrier();
      if (!this.isOwed(message)) return;
      // A recovery replays notifications/initialized itself; sending it again would initialize the session twice.
      if (failures > 0 && message === this.initializedMessage && this.established) return;
      const generation = this.generation;
      if (!this.upstream) {
        if (!(await this.tryRecover(generation, message, since))) return;
        continue;
      }
      if (initializing) {
        // A fresh initialize starts a fresh session: no stale id or version may ride along.
        this.sessionId = undefined;
        this.protocolVersion = undefined;
      }
      this.markSent(message, generation);
      let response: Response;
      try {
        response = await this.post(message);
      } catch (error) {
        // Connection refused: the request never reached the daemon, so it is resent once a daemon is back.
        if (await this.postFailed(error, message, generation, since, failures++)) continue;
        return;
      }
      if ((response.status === 404 || response.status === 400) && !initializing && this.sessionId) {
        const text = await response.text().catch(() => "");
        if (!sessionGone(response.status, text)) {
          this.answerHttpError(message, response.status, text);
          return;
        }
        if (await this.resendAfterRecovery(message, generation, since, failures++)) continue;
        return;
      }
      if (initializing && response.ok) this.sessionId = response.headers.get("mcp-session-id") ?? undefined;
      await this.consume(response, message, initializing);
      if (initializing && this.sessionId) await this.openStream(this.generation);
      return;
    }
  }

  /** Reads one POST's answer: 202, JSON, or an SSE stream of related messages ending with the response. */
  private async consume(response: Response, message: JsonRpcMessage, initializing: boolean): Promise<void> {
    const onMessages = (messages: JsonRpcMessage[]) => {
      if (!initializing) return;
      for (const m of messages) {
        const version = (m.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
        if (m.id === message.id && typeof version === "string") this.protocolVersion = version;
      }
    };
    if (response.status === 202 || response.status === 204) {
      await response.body?.cancel().catch(noop);
      if (isRequest(message)) this.fail(message, "msm: the MCP server accepted the request but sent no answer");
      return;
    }
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream") && response.body) {
      try {
        for await (const event of readSse(response.body)) {
          if (event.event === "message" && event.data !== "") onMessages(this.deliverText(event.data));
        }
      } catch (error) {
        this.log.debug(`answer stream for ${message.method ?? message.id} broke: ${errorText(error)}`);
      }
      // The stream ended without the response: the daemon died (or dropped the stream) while handling the request.
      if (this.isOwed(message)) {
        this.fail(message, "msm: the MCP server stopped while handling this request (it may have restarted); the request may not have completed — retry it");
      }
      return;
    }
    let text = "";
    try {
      text = await response.text();
    } catch (error) {
      this.fail(message, `msm: lost the connection while reading the answer (${errorText(error)})`);
      return;
    }
    if (!response.ok) {
      this.answerHttpError(message, response.status, text);
      return;
    }
    if (text.trim() !== "") onMessages(this.deliverText(text));
    if (this.isOwed(message)) this.fail(message, "msm: the MCP server sent no answer to this request");
  }

  /** A non-2xx answer: pass on a JSON-RPC error the server gave (with this request's id), else say what happened. */
  private answerHttpError(message: JsonRpcMessage, status: number, text: string): void {
    const parsed = parseServerText(text)?.[0];
    if (parsed?.error && isRequest(message)) {
      const error = parsed.error as { code?: number; message?: string };
      this.fail(message, `msm: the MCP server answered HTTP ${status}: ${error.message ?? text.slice(0, 200)}`);
      return;
    }
    this.fail(message, `msm: the MCP server answered HTTP ${status} ${text.slice(0, 200)}`.trim());
  }

  protected async reopen(generation: number): Promise<void> {
    this.stream?.abort();
    this.stream = undefined;
    this.sessionId = undefined;
    this.protocolVersion = undefined;
    this.lastEventId = undefined;
    if (!this.established) return;
    const replay = this.replayInitialize();
    let response: Response;
    try {
      response = await this.post(replay.message);
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
    if (!answer || !answer.result) throw new Error(`initialize was refused: ${JSON.stringify(answer?.error ?? "no answer")}`);
    const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
    if (typeof version === "string") this.protocolVersion = version;
    await this.openStream(generation);
    if (this.initializedMessage) {
      const ack = await this.post(this.initializedMessage);
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
