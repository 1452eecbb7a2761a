import { errorResponse, isRequest, parseServerText, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { isUnreachable, type Upstream } from "./upstream.ts";
import { SESSION_ENV_META } from "../lib/http/headers.ts";
import type { LinePieces } from "../lib/wire/lines.ts";

export type { JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
export { errorResponse } from "../lib/jsonrpc/messages.ts";

/** The few logger methods the bridge uses (consola in production, a stub in unit tests). */
export interface Log {
  debug: (...args: unknown[]) => void;
  info: (...args: unknown[]) => void;
  warn: (...args: unknown[]) => void;
}

/**
 * Why the bridge reconnects: "request" = it has a message to deliver (may start a stopped daemon); "stream" = only
 * the event stream wants to reopen, which must never start a daemon someone stopped (`msm stop` holds until the
 * editor's next request).
 */
export type ConnectReason = "request" | "stream";

export interface BridgeOptions {
  /** Finds (or starts) the server; called at start and again whenever the server has gone away. */
  connect: (reason?: ConnectReason) => Promise<Upstream>;
  /**
   * Writes one JSON-RPC message as one line to the editor. The only path to stdout. `raw` is the server's own text
   * of exactly that message, on one line: written as is rather than serialised again. As byte pieces (a large answer
   * on the line wire, see Bridge.deliverLine), `message` only stands in for it: its id, and `result: null`.
   */
  write: (message: JsonRpcMessage, raw?: RawLine) => void;
  log: Log;
  fetch?: typeof fetch;
  /** How long a message keeps waiting for a vanished server before the editor is told it is unreachable. */
  recoverTimeoutMs?: number;
  /**
   * Resolves once the editor has taken enough of what was written to it (undefined: there is room now). Streams are
   * read no further until then, so an editor that stops reading holds the answers in the daemon, which bounds them
   * per session, not in this process without limit.
   */
  room?: () => Promise<void> | undefined;
  /**
   * A session the editor already initialized elsewhere (the discovery cache answered it): the bridge starts as if
   * the server had gone away, replaying this initialize (answer swallowed) and notifications/initialized.
   */
  resume?: { initialize: JsonRpcMessage; initialized?: JsonRpcMessage };
  /** Each replayed initialize's answer from the server (the editor never sees it). */
  onReplayAnswer?: (answer: JsonRpcMessage) => void;
}

export interface CloseOptions {
  /** How long answers still owed to the editor may take before the bridge gives up on them. */
  graceMs: number;
  /** Bound on the session DELETE, so a hung server cannot hold an editor's shutdown. */
  deleteTimeoutMs?: number;
}

/** A vanished server is retried this long per message; long enough for a daemon restart, short enough to answer. */
export const RECOVER_TIMEOUT_MS = 30_000;
export const RETRY_FIRST_MS = 50;
export const RETRY_MAX_MS = 2_000;
export const DELETE_TIMEOUT_MS = 1_000;

/** A server message's own text: a string, or a line's bytes as they arrived (lib/wire/lines.ts). */
export type RawLine = string | LinePieces;

/** A request the editor sent that still waits for its answer. */
interface Pending {
  /** The session generation it was posted in; undefined until a POST for it is under way. */
  sentIn?: number;
  method: string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The server's own text of its one message, when it is on one line: written to the editor as is. (Valid JSON holds
 * a raw newline only between tokens.)
 */
export function oneLine(text: string, messages: unknown[]): string | undefined {
  if (messages.length !== 1) return undefined;
  const raw = text.trim();
  return raw.startsWith("{") && !/[\r\n]/.test(raw) ? raw : undefined;
}

export function backoff(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1));
}

/**
 * What every transport shares: ordering (initialize and notifications/initialized go first, everything else waits for
 * them), the table of requests owed an answer, and invisible restarts — when the server is gone, reconnect, replay
 * the editor's own initialize (fresh id, answer swallowed) and notifications/initialized, then resend.
 */
export abstract class Bridge {
  protected upstream: Upstream | undefined;
  /** Bumped for every new server session; a failure seen in an older generation has already been recovered from. */
  protected generation = 0;
  /** The editor's initialize once the server accepted it: from then on a new session is made by replaying it. */
  protected established: JsonRpcMessage | undefined;
  protected initializeMessage: JsonRpcMessage | undefined;
  protected initializedMessage: JsonRpcMessage | undefined;
  protected readonly pending = new Map<JsonRpcId, Pending>();
  /** Ids the proxy answered itself (with an error) after they reached the server: a late answer is dropped, not doubled. */
  private readonly answered = new Set<JsonRpcId>();
  private readonly replays = new Map<JsonRpcId, (message: JsonRpcMessage) => void>();
  /** The editor's own text of a message, sent as the request body instead of a fresh JSON.stringify. */
  private readonly bodies = new WeakMap<JsonRpcMessage, string>();
  private barrier: Promise<void>;
  private recovering: Promise<void> | undefined;
  private recoveringFor: ConnectReason = "request";
  private idleWaiters: (() => void)[] = [];
  private replayCount = 0;
  private replayedId: JsonRpcId | undefined;
  protected closing = false;
  protected readonly fetch: typeof fetch;
  protected readonly log: Log;
  protected readonly recoverTimeoutMs: number;

  constructor(protected readonly options: BridgeOptions) {
    this.fetch = options.fetch ?? fetch;
    this.log = options.log;
    this.recoverTimeoutMs = options.recoverTimeoutMs ?? RECOVER_TIMEOUT_MS;
    if (options.resume) {
      this.established = this.initializeMessage = options.resume.initialize;
      this.initializedMessage = options.resume.initialized;
    }
    // Connecting starts at once, while the editor is still writing its initialize.
    this.barrier = this.recover(0).catch((error) => this.log.warn(`cannot reach the MCP server yet: ${errorText(error)}`));
  }

  /** Forwards one editor message (`raw`: its text as the editor sent it); answers arrive through `write`. */
  send(message: JsonRpcMessage, raw?: string): void {
    if (isRequest(message)) this.pending.set(message.id, { method: message.method });
    try {
      this.bodies.set(message, raw ?? JSON.stringify(message));
    } catch (error) {
      // JSON.parse accepts nesting that JSON.stringify cannot write back (a stack overflow): say so, not "lost the connection".
      this.fail(message, `msm: cannot forward this message: it cannot be serialised (${errorText(error)})`);
      return;
    }
    if (message.method === "notifications/cancelled") {
      // The editor will ignore an answer to a cancelled request (spec, cancellation): stop waiting for it.
      const id = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      if (id !== undefined) this.settle(id);
    }
    if (message.method === "initialize" || message.method === "notifications/initialized") {
      if (message.method === "initialize") this.initializeMessage = message;
      else this.initializedMessage = message;
      const run = this.barrier.then(() => this.forward(message, true));
      this.barrier = run.catch((error) => this.log.warn(`${message.method} failed: ${errorText(error)}`));
      return;
    }
    void this.forward(message, false).catch((error) => this.fail(message, `msm: ${errorText(error)}`));
  }

  /**
   * A request of msm's own on the editor's session (the discovery cache comparing lists): sent like the editor's,
   * answered here, never to the editor; a failure is an error answer.
   */
  request(method: string, params?: Record<string, unknown>): Promise<JsonRpcMessage> {
    const id = `msm-${++this.replayCount}`;
    const message: JsonRpcMessage = { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) };
    const answer = new Promise<JsonRpcMessage>((resolve) => this.replays.set(id, resolve));
    this.pending.set(id, { method });
    void this.forward(message, false).catch((error) => this.fail(message, `msm: ${errorText(error)}`));
    return answer;
  }

  /** The HTTP body for a message: the editor's text when it came as one line, else its serialisation. */
  protected body(message: JsonRpcMessage): string {
    // The first message of a session: initialize, or the stateless revision's discovery.
    if ((message.method === "initialize" || message.method === "server/discover") && this.upstream?.sessionEnv) return JSON.stringify(withSessionEnv(message));
    return this.bodies.get(message) ?? JSON.stringify(message);
  }

  /**
   * Delivers one message, the same way for every transport: wait for lifecycle messages and recovery, POST it, and
   * when the server has gone away (refused, or the session is unknown to it) recover and send it again, with
   * backoff, until RECOVER_TIMEOUT_MS. A message that may have reached the server is answered with an error instead
   * of being sent twice.
   */
  protected async forward(message: JsonRpcMessage, lifecycle: boolean): Promise<void> {
    const since = Date.now();
    for (let failures = 0; ; ) {
      if (!lifecycle) await this.afterBarrier();
      if (!this.isOwed(message)) return;
      // A recovery replays notifications/initialized itself; sending it again would initialize the session twice.
      if (failures > 0 && message === this.initializedMessage && this.established) return;
      const generation = this.generation;
      if (!this.connected()) {
        if (this.pauseWhenDisconnected && failures++ > 0) await sleep(backoff(failures));
        if (!(await this.tryRecover(generation, message, since))) return;
        continue;
      }
      this.beforePost(message);
      this.markSent(message, generation);
      let response: Response | undefined;
      try {
        response = await this.post(message);
      } catch (error) {
        // Connection refused: the request never reached the daemon, so it is resent once a daemon is back.
        if (await this.postFailed(error, message, generation, since, failures++)) continue;
        return;
      }
      // No response: the message went on a connection whose answers arrive on their own (the line wire).
      if (response && (await this.answer(response, message)) === "session-gone") {
        // The server no longer knows this session (it restarted): a new session, then the message again.
        if (await this.resendAfterRecovery(message, generation, since, failures++)) continue;
      }
      return;
    }
  }

  /**
   * Whether a lost connection is a failure that may repeat: legacy SSE loses its session with its stream, so it
   * backs off between attempts; streamable HTTP is only unconnected before its first session.
   */
  protected readonly pauseWhenDisconnected: boolean = false;

  /** Whether there is a session to POST to now. */
  protected abstract connected(): boolean;

  /** Called just before `message` is POSTed. */
  protected beforePost(_message: JsonRpcMessage): void {}

  /**
   * POSTs one message to the server session (rejects when it never reached the server); undefined when it was written
   * on a connection that carries its answer back on its own.
   */
  protected abstract post(message: JsonRpcMessage): Promise<Response | undefined>;

  /** Handles the POST's answer: delivered (or answered with an error) is "done"; the server lost the session is "session-gone". */
  protected abstract answer(response: Response, message: JsonRpcMessage): Promise<"done" | "session-gone">;

  /** Sets up a new server session on `this.upstream` (replaying initialize when `established`). */
  protected abstract reopen(generation: number): Promise<void>;

  /** Ends the server session: streams aborted, session deleted where the transport has one. */
  protected abstract shutdown(deleteTimeoutMs: number): Promise<void>;

  /** Resolves once lifecycle messages and any recovery in progress are done: the moment other messages may go. */
  protected async afterBarrier(): Promise<void> {
    for (;;) {
      const barrier = this.barrier;
      const recovering = this.recovering;
      await barrier;
      if (recovering) await recovering.catch(() => {});
      if (barrier === this.barrier && !this.recovering) return;
    }
  }

  /**
   * Makes a new server session after the old one vanished. Concurrent callers share one attempt, and a caller whose
   * failure belongs to an older generation just waits for the attempt that already replaced it.
   */
  protected recover(failedGeneration: number, reason: ConnectReason = "request"): Promise<void> {
    if (this.closing) return Promise.reject(new Error("msm is shutting down"));
    if (this.recovering) {
      // A stream's attempt may be refused (daemon stopped); a message to deliver then makes its own attempt.
      if (reason === "request" && this.recoveringFor === "stream") return this.recovering.catch(() => this.recover(failedGeneration, reason));
      return this.recovering;
    }
    if (failedGeneration !== this.generation) return Promise.resolve();
    const attempt = this.reconnect(reason).finally(() => {
      this.recovering = undefined;
    });
    this.recovering = attempt;
    this.recoveringFor = reason;
    return attempt;
  }

  private async reconnect(reason: ConnectReason): Promise<void> {
    const deadline = Date.now() + this.recoverTimeoutMs;
    for (let failures = 1; ; failures++) {
      if (this.closing) throw new Error("msm is shutting down");
      // connect() has its own deadline (a daemon start); when it gives up there is no point in asking again.
      this.upstream = await this.options.connect(reason);
      const generation = ++this.generation;
      try {
        await this.reopen(generation);
        if (this.established) this.log.info(`new session with ${this.upstream.url} (the server had gone away)`);
        return;
      } catch (error) {
        this.log.debug(`reconnect attempt ${failures} failed: ${errorText(error)}`);
        if (Date.now() + backoff(failures) > deadline) throw error;
      }
      await sleep(backoff(failures));
    }
  }

  /**
   * The message never reached a live server: forget it was sent, wait if this is not the first failure, recover, and
   * say whether to resend it. `failures` counts the failures before this one.
   */
  protected async resendAfterRecovery(message: JsonRpcMessage, generation: number, since: number, failures: number): Promise<boolean> {
    this.markSent(message, undefined);
    if (failures > 0) await sleep(backoff(failures + 1));
    return this.tryRecover(generation, message, since);
  }

  /** A POST that failed in the network: resent after recovery when it never reached the server, answered otherwise. */
  protected async postFailed(error: unknown, message: JsonRpcMessage, generation: number, since: number, failures: number): Promise<boolean> {
    if (isUnreachable(error) && !this.closing) return this.resendAfterRecovery(message, generation, since, failures);
    this.markSent(message, undefined);
    this.fail(message, `msm: lost the connection to the MCP server (${errorText(error)})`);
    return false;
  }

  /** Recovers for a message that could not be delivered; false (and the editor answered) when that failed. */
  protected async tryRecover(generation: number, message: JsonRpcMessage, since: number): Promise<boolean> {
    if (this.closing) {
      this.fail(message, "msm: the proxy is shutting down");
      return false;
    }
    if (Date.now() - since > this.recoverTimeoutMs) {
      this.fail(message, `msm: the MCP server at ${this.upstream?.url ?? "(unknown)"} is unreachable`);
      return false;
    }
    try {
      await this.recover(generation);
      return true;
    } catch (error) {
      this.fail(message, `msm: cannot reach the MCP server: ${errorText(error)}`);
      return false;
    }
  }

  /** The editor's initialize under a fresh id, and a promise of the server's answer (which the editor never sees). */
  protected replayInitialize(): { message: JsonRpcMessage; answer: Promise<JsonRpcMessage> } {
    const id = `msm-replay-${++this.replayCount}`;
    this.replayedId = id;
    const message = { ...this.established!, id };
    const answer = new Promise<JsonRpcMessage>((resolve) => this.replays.set(id, resolve));
    return { message, answer };
  }

  protected forgetReplay(id: JsonRpcId | null | undefined): void {
    if (id !== undefined && id !== null) this.replays.delete(id);
  }

  protected markSent(message: JsonRpcMessage, generation: number | undefined): void {
    if (!isRequest(message)) return;
    const entry = this.pending.get(message.id);
    if (entry) entry.sentIn = generation;
  }

  /** Whether a request still waits for its answer (false once answered or failed). */
  protected isOwed(message: JsonRpcMessage): boolean {
    return !isRequest(message) || this.pending.has(message.id);
  }

  /** Every request posted in `generation` still unanswered: the server died holding them. */
  protected inFlight(generation: number): JsonRpcId[] {
    return [...this.pending].filter(([, p]) => p.sentIn === generation).map(([id]) => id);
  }

  /** The method of the editor's request `id` still waiting for its answer. */
  protected pendingMethod(id: JsonRpcId): string | undefined {
    return this.pending.get(id)?.method;
  }

  /**
   * A large answer passed on as the bytes it arrived as, never decoded or parsed here (only its id was read). For
   * requests whose answers nothing in the proxy reads (not initialize, not a list: see WireBridge).
   */
  protected deliverLine(id: JsonRpcId, line: LinePieces): void {
    if (this.answered.delete(id)) return;
    this.settle(id);
    this.options.write({ jsonrpc: "2.0", id, result: null }, line);
  }

  /** Writes a server message to the editor, except answers to replays (swallowed) and answers already given. */
  protected deliver(message: JsonRpcMessage, raw?: string): void {
    if (message.method === undefined && message.id !== undefined && message.id !== null) {
      const replay = this.replays.get(message.id);
      if (replay) {
        this.replays.delete(message.id);
        this.settle(message.id);
        if (message.id === this.replayedId) this.options.onReplayAnswer?.(message);
        replay(message);
        return;
      }
      if (this.answered.delete(message.id)) return;
      if (this.initializeMessage?.id === message.id && "result" in message) this.established = this.initializeMessage;
      this.settle(message.id);
    }
    this.options.write(message, raw);
  }

  /** Waits while the editor has too much unread (see BridgeOptions.room). */
  protected room(): Promise<void> | undefined {
    return this.options.room?.();
  }

  protected deliverText(text: string): JsonRpcMessage[] {
    const messages = parseServerText(text);
    if (!messages) {
      this.log.warn(`dropped a malformed message from the server: ${text.slice(0, 200)}`);
      return [];
    }
    const single = oneLine(text, messages);
    for (const message of messages) this.deliver(message, single);
    return messages;
  }

  /** Tells the editor a request failed (never silence); notifications and responses that cannot go are logged. */
  protected fail(message: JsonRpcMessage, text: string): void {
    if (!isRequest(message)) {
      this.log.warn(`could not forward ${message.method ?? `the answer to ${message.id}`}: ${text}`);
      return;
    }
    this.failId(message.id, text);
  }

  protected failId(id: JsonRpcId, text: string): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    if (entry.sentIn !== undefined) this.answered.add(id);
    this.settle(id);
    const own = this.replays.get(id);
    if (own) {
      this.replays.delete(id);
      own(errorResponse(id, UPSTREAM_ERROR, text));
      return;
    }
    this.options.write(errorResponse(id, UPSTREAM_ERROR, text));
  }

  private settle(id: JsonRpcId): void {
    if (!this.pending.delete(id) || this.pending.size) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Waits (bounded) for answers still owed to the editor, then ends the server session. */
  async close(options: CloseOptions): Promise<void> {
    if (this.pending.size && options.graceMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.closing = true;
    // Never silence: whatever is still owed gets an answer before the proxy goes.
    for (const id of [...this.pending.keys()]) this.failId(id, "msm: the proxy is exiting (stdin closed) before the MCP server answered");
    await this.shutdown(options.deleteTimeoutMs ?? DELETE_TIMEOUT_MS).catch(() => {});
  }
}

/** The editor's initialize with this process's environment in its `_meta`, for a stdio host (see Upstream.sessionEnv). */
function withSessionEnv(message: JsonRpcMessage): JsonRpcMessage {
  const params = (message.params ?? {}) as Record<string, unknown>;
  const meta = params._meta && typeof params._meta === "object" ? (params._meta as Record<string, unknown>) : {};
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return { ...message, params: { ...params, _meta: { ...meta, [SESSION_ENV_META]: env } } };
}
