/**
 * A table of live MCP sessions that ends the forgotten ones. An editor killed with SIGKILL never DELETEs its session,
 * so without expiry a daemon collects them forever (3,040 orphans took the memory daemon to 428 MB). A session is
 * busy while it has a request in progress or an open event stream (its proxy is alive and listening); once it has
 * had neither for `idleMs` it is reaped. Self-contained, so every daemon kind (memory, stdio host) can share it.
 */

/** How long a session may sit with no open stream and no request before it is reaped (MSM_SESSION_IDLE_MS overrides). */
export const SESSION_IDLE_MS = 10 * 60_000;
/** The sweep never runs less often than this, so a reaped session is gone within idleMs + this. */
const MAX_SWEEP_MS = 60_000;

export function sessionIdleMsFromEnv(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env.MSM_SESSION_IDLE_MS);
  return env.MSM_SESSION_IDLE_MS && Number.isFinite(value) && value > 0 ? value : SESSION_IDLE_MS;
}

export interface SessionTableOptions<T> {
  idleMs?: number;
  /** Ends a reaped session (close its transport/server); called once, after it left the table. */
  onExpire: (id: string, value: T) => void | Promise<void>;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  /** Requests and streams in progress. */
  active: number;
  /** When the last one ended, or when the session was added. */
  lastSeen: number;
}

export class SessionTable<T> {
  readonly idleMs: number;
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: SessionTableOptions<T>) {
    this.idleMs = options.idleMs ?? sessionIdleMsFromEnv();
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  add(id: string, value: T): void {
    this.entries.set(id, { value, active: 0, lastSeen: this.now() });
  }

  get(id: string): T | undefined {
    return this.entries.get(id)?.value;
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  /** The session ended on purpose (DELETE, transport closed): no expiry callback. */
  delete(id: string): boolean {
    return this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * A request or an event stream of session `id` starts; call the returned function (any number of times) when it
   * ends. While any is open the session is never reaped.
   */
  begin(id: string): () => void {
    const entry = this.entries.get(id);
    if (!entry) return () => {};
    entry.active++;
    entry.lastSeen = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      entry.active--;
      entry.lastSeen = this.now();
    };
  }

  /** Reaps every session idle for `idleMs`; returns their ids. */
  sweep(): string[] {
    const now = this.now();
    const reaped: string[] = [];
    for (const [id, entry] of this.entries) {
      if (entry.active > 0 || now - entry.lastSeen < this.idleMs) continue;
      this.entries.delete(id);
      reaped.push(id);
      void Promise.resolve()
        .then(() => this.options.onExpire(id, entry.value))
        .catch(() => {});
    }
    return reaped;
  }

  /** Sweeps every half idle period (at most a minute apart): a session idle that long is gone within twice that. */
  start(): void {
    this.stop();
    this.timer = setInterval(() => this.sweep(), Math.max(10, Math.min(this.idleMs / 2, MAX_SWEEP_MS)));
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Calls `done` once the response has been delivered: at once without a body, else when its body ends, fails or is
 * cancelled (the client went away — Bun cancels the body of a response whose connection closed), or when `signal`
 * aborts. Lets a session table count an SSE stream as open exactly as long as it is.
 */
export function onResponseDone(response: Response, done: () => void, signal?: AbortSignal): Response {
  if (!response.body) {
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
