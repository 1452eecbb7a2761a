import { Bridge, errorText } from "./bridge.ts";
import type { JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { readSse } from "../lib/jsonrpc/sse.ts";
import { NO_TIMEOUT, postFresh, sessionGone } from "./upstream.ts";

/** How long a new SSE stream may take to name its POST endpoint, and a replayed initialize to be answered. */
export const ENDPOINT_WAIT_MS = 10_000;

const noop = () => {};

/**
 * The 2024-11-05 HTTP+SSE transport: GET the SSE endpoint, wait for the `endpoint` event naming where to POST,
 * POST every message there (202), and read every answer, notification and server request from that one stream.
 * The session lives as long as the stream: when it drops, requests in flight are answered with an error and a new
 * stream + replayed initialize take its place.
 */
export class SseBridge extends Bridge {
  private postUrl: string | undefined;
  private stream: AbortController | undefined;

  protected override readonly pauseWhenDisconnected = true;

  protected connected(): boolean {
    return this.postUrl !== undefined;
  }

  protected post(message: JsonRpcMessage): Promise<Response> {
    return postFresh(this.fetch, this.upstream!, this.postUrl!, {
      method: "POST",
      headers: { ...this.upstream!.headers, "content-type": "application/json" },
      body: this.body(message),
      ...NO_TIMEOUT,
    });
  }

  /** Every answer comes on the stream; the POST itself only says whether the session still exists. */
  protected async answer(response: Response, message: JsonRpcMessage): Promise<"done" | "session-gone"> {
    const text = await response.text().catch(() => "");
    if (sessionGone(response.status, text)) return "session-gone";
    if (!response.ok) this.fail(message, `msm: the MCP server answered HTTP ${response.status} ${text.slice(0, 200)}`.trim());
    return "done";
  }

  protected async reopen(generation: number): Promise<void> {
    this.stream?.abort();
    this.postUrl = undefined;
    await this.openStream(generation);
    if (!this.established) return;
    const replay = this.replayInitialize();
    try {
      await this.postRaw(replay.message);
      let timer: Timer | undefined;
      const answer = await Promise.race([
        replay.answer,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(resolve, ENDPOINT_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!answer?.result) throw new Error(`initialize was refused: ${JSON.stringify(answer?.error ?? "no answer")}`);
    } finally {
      this.forgetReplay(replay.message.id);
    }
    if (this.initializedMessage) await this.postRaw(this.initializedMessage);
  }

  private async postRaw(message: JsonRpcMessage): Promise<void> {
    const response = await this.fetch(this.postUrl!, {
      method: "POST",
      headers: { ...this.upstream!.headers, "content-type": "application/json" },
      body: this.body(message),
      ...NO_TIMEOUT,
    });
    await response.body?.cancel().catch(noop);
    if (!response.ok) throw new Error(`POST answered HTTP ${response.status}`);
  }

  /** Opens the stream; resolves once the `endpoint` event arrived, rejects if the stream fails before that. */
  private openStream(generation: number): Promise<void> {
    const controller = new AbortController();
    this.stream = controller;
    const upstream = this.upstream!;
    return new Promise<void>((resolve, reject) => {
      let named = false;
      const timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no endpoint event within ${ENDPOINT_WAIT_MS} ms`));
      }, ENDPOINT_WAIT_MS);
      timer.unref?.();
      void (async () => {
        try {
          const response = await this.fetch(upstream.url, {
            method: "GET",
            headers: { ...upstream.headers, accept: "text/event-stream" },
            signal: controller.signal,
            ...NO_TIMEOUT,
          });
          if (!response.ok || !response.body) {
            await response.body?.cancel().catch(noop);
            throw new Error(`GET ${upstream.url} answered HTTP ${response.status}`);
          }
          for await (const event of readSse(response.body)) {
            if (event.event === "endpoint") {
              // The endpoint may be relative ("/message?sessionId=…"): resolve it against the stream's URL.
              this.postUrl = new URL(event.data.trim(), upstream.url).href;
              named = true;
              clearTimeout(timer);
              resolve();
            } else if (event.event === "message" && event.data !== "") {
              this.deliverText(event.data);
              await this.room();
            }
          }
          throw new Error("the server closed the event stream");
        } catch (error) {
          clearTimeout(timer);
          if (!named) return reject(error);
          if (controller.signal.aborted || generation !== this.generation || this.closing) return;
          this.lost(generation, errorText(error));
        }
      })();
    });
  }

  /** The stream (and so the session) is gone: answer what was in flight, then build a new session. */
  private lost(generation: number, why: string): void {
    this.log.info(`event stream lost (${why}); reconnecting`);
    this.postUrl = undefined;
    for (const id of this.inFlight(generation)) {
      this.failId(id, "msm: the MCP server's event stream dropped while this request was in flight; the request may not have completed — retry it");
    }
    void this.recover(generation).catch((error) => this.log.warn(`cannot reconnect: ${errorText(error)}`));
  }

  protected async shutdown(): Promise<void> {
    // The 2024-11-05 transport has no DELETE: closing the stream ends the session.
    this.stream?.abort();
  }
}
