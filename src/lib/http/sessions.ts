/**
 * MCP sessions a daemon holds for its clients, with expiry. A proxy that exits cleanly DELETEs its session, but one
 * that is SIGKILLed (Claude Code's teardown ends with SIGKILL) never does: without expiry every such session would
 * live in the daemon forever. A session with no open stream and no request in flight for `idleMs` is closed.
 */

/** How long a session may sit with no open stream and no request before it is closed (MSM_SESSION_IDLE_MS overrides). */
export const SESSION_IDLE_MS = 10 * 60_000;
/**
 * A session whose client held an event stream (GET) and lost it: the client process is gone (SIGKILLed, crashed) —
 * unless it opens a new stream within this grace, as a proxy does after its daemon ended a stream. Closed then, not
 * after SESSION_IDLE_MS, which stays the backstop for clients that never hold a stream.
 */
export const LISTENER_GRACE_MS = 2_000;

export function sessionIdleMs(env = process.env): number {
  const fromEnv = Number(env.MSM_SESSION_IDLE_MS);
  return env.MSM_SESSION_IDLE_MS && Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : SESSION_IDLE_MS;
}

export interface Expirable {
  /** Called once when the table drops the session (expired, or deleted by its owner). */
  close(reason: string): void;
}

interface Entry<S> {
  session: S;
  streams: number;
  requests: number;
  /** Open GET event streams; `listened`: it has had one. */
  listeners: number;
  listened: boolean;
  lastActive: number;
}

export class SessionTable<S extends Expirable> {
  private readonly entries = new Map<string, Entry<S>>();
  private timer: Timer | undefined;

  constructor(
    readonly idleMs = sessionIdleMs(),
    private readonly now = () => Date.now(),
    readonly listenerGraceMs = LISTENER_GRACE_MS,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(id: string, session: S): void {
    this.entries.set(id, { session, streams: 0, requests: 0, listeners: 0, listened: false, lastActive: this.now() });
  }

  /** The session, marked as used now. */
  get(id: string): S | undefined {
    const entry = this.entries.get(id);
    if (entry) entry.lastActive = this.now();
    return entry?.session;
  }

  values(): S[] {
    return [...this.entries.values()].map((e) => e.session);
  }

  /** Forgets the session and closes it; false when it was not there. */
  delete(id: string, reason: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    entry.session.close(reason);
    return true;
  }

  /** An HTTP response (an SSE stream, usually) for this session is open until the returned function is called. */
  streamOpened(id: string): () => void {
    return this.count(id, "streams");
  }

  /**
   * The client's own event stream (GET) is open until the returned function is called. When the last one closes and
   * none reopens within the grace, the client is gone: its session is closed.
   */
  listenerOpened(id: string): () => void {
    const entry = this.entries.get(id);
    if (!entry) return () => {};
    entry.listeners++;
    entry.listened = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      entry.listeners--;
      if (entry.listeners === 0) this.checkGone(id, entry);
    };
  }

  private checkGone(id: string, entry: Entry<S>): void {
    const timer = setTimeout(() => {
      if (this.entries.get(id) !== entry || entry.listeners > 0) return;
      // A call still running for it: look again once more time has passed.
      if (entry.requests > 0 || entry.streams > 0) return this.checkGone(id, entry);
      this.delete(id, "its client went away (its event stream closed)");
    }, this.listenerGraceMs);
    timer.unref?.();
  }

  /** A request of this session is in flight until the returned function is called. */
  requestStarted(id: string): () => void {
    return this.count(id, "requests");
  }

  private count(id: string, field: "streams" | "requests"): () => void {
    const entry = this.entries.get(id);
    if (!entry) return () => {};
    entry[field]++;
    entry.lastActive = this.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      entry[field]--;
      entry.lastActive = this.now();
    };
  }

  /** Closes every session that has been idle (no stream, no request) for `idleMs`; returns their ids. */
  sweep(): string[] {
    const now = this.now();
    const expired: string[] = [];
    for (const [id, entry] of this.entries) {
      if (entry.streams > 0 || entry.requests > 0 || now - entry.lastActive < this.idleMs) continue;
      expired.push(id);
    }
    for (const id of expired) this.delete(id, `no stream and no request for ${Math.round(this.idleMs / 1000)} s`);
    return expired;
  }

  /** Sweeps periodically (a tenth of the idle time, at most once a minute); the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(60_000, this.idleMs / 10)));
    this.timer.unref?.();
  }

  closeAll(reason: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const id of [...this.entries.keys()]) this.delete(id, reason);
  }
}

export interface BodyHooks {
  /** Bytes produced for the client but not yet taken by it grew (positive) or shrank (negative) by `delta`. */
  queued(delta: number): void;
  /** The stream ended: finished, cancelled because the client went away, or aborted. Called once. */
  end(): void;
}

/**
 * Puts a queue msm can measure between a streamed response body and the client. The body is read at once (its
 * producer, e.g. the SDK transport's SSE stream, never waits), and the server takes chunks only as fast as the
 * client reads (highWaterMark 0), so what sits in between is exactly what a stalled client has not taken: the owner
 * cuts the session off when that grows too large, instead of buffering without bound. `abort()` drops the queue
 * and ends the stream.
 */
export function queueBody(response: Response, hooks: BodyHooks): { response: Response; abort: (reason: string) => void } {
  if (!response.body) {
    hooks.end();
    return { response, abort: () => {} };
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let queued = 0;
  let finished = false;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    if (queued) hooks.queued(-queued);
    queued = 0;
    chunks.length = 0;
    hooks.end();
  };
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || ended) break;
        chunks.push(value);
        queued += value.byteLength;
        hooks.queued(value.byteLength);
        wake?.();
      }
    } catch (error) {
      failure = error;
    } finally {
      finished = true;
      wake?.();
    }
  })();
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      async pull(c) {
        while (!chunks.length && !finished && !ended) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        const chunk = chunks.shift();
        if (chunk && !ended) {
          queued -= chunk.byteLength;
          hooks.queued(-chunk.byteLength);
          c.enqueue(chunk);
          return;
        }
        if (ended) return;
        end();
        if (failure) c.error(failure);
        else c.close();
      },
      cancel(reason) {
        end();
        return reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  // Ended, not errored: Bun prints an errored response stream as an uncaught error with source lines in the log, and
  // a client reads a stream that ends before its answer as exactly that (the proxy answers the editor with an error).
  const abort = (reason: string) => {
    if (ended) return;
    end();
    void reader.cancel(reason).catch(() => {});
    try {
      controller?.close();
    } catch {}
    wake?.();
  };
  return { response: new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }), abort };
}
/**
 * Calls `done` once the response has been delivered: at once without a body, else when its body ends, fails or is
 * cancelled (the client went away — Bun cancels the body of a response whose connection closed), or when `signal`
 * aborts. Lets a session table count an SSE stream as open exactly as long as it is.
 */
export function onResponseDone(response: Response, done: () => void, signal?: AbortSignal): Response {
  // A JSON answer is whole once it is returned. Wrapping its body too would send it chunked, its end in a write of
  // its own that the client must wait for (~0.1 ms a call on loopback).
  if (!response.body || !(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    done();
    return response;
  }
  signal?.addEventListener("abort", done, { once: true });
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: finished } = await reader.read();
        if (finished) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
