/**
 * One target of a profile session: its own session (the discovery cache in front of its own bridge, so its own
 * shared daemon, cache, rules and recovery, exactly as `msm proxy --target NAME` has), the requests the profile sent
 * it, and whether it is working (docs/profiles.md "When a target fails").
 */
import { errorResponse, isRequest, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../../lib/jsonrpc/messages.ts";
import type { CloseOptions, Log } from "../bridge.ts";
import type { Session } from "../discovery.ts";
import type { RulesFilter } from "../rules.ts";
import type { ListMethod, TargetList } from "./merge.ts";

type Json = Record<string, unknown>;

/** How long a probe's ping may take before the target counts as not working. */
export const PROBE_TIMEOUT_MS = 5_000;
/** Waits between attempts to bring back a target that is not working (then the last one, again and again). */
export const RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** Ids of the profile's requests to its targets: one counter for every target, so no two requests share one. */
let counter = 0;
const nextId = (): string => `msm-p${++counter}`;

export type LinkState = "starting" | "up" | "down";

export interface LinkOptions {
  target: string;
  /** Its position in the profile: earlier targets win where two give one answer. */
  index: number;
  /** Opens the target's session, whose messages go to `write`; rejects when the target cannot even be looked for. */
  open: (write: (message: JsonRpcMessage) => void) => Promise<Session>;
  /** The target's tool rules (config.json and the project's file), as a session of the target alone has them. */
  rules: RulesFilter;
  log: Log;
  /** A message from the target that answers none of the profile's requests: its requests and notifications. */
  onMessage: (link: TargetLink, message: JsonRpcMessage) => void;
  /** The target stopped or started working. */
  onState: (link: TargetLink) => void;
}

interface Waiting {
  answer: (message: JsonRpcMessage) => void;
  cancelled?: boolean;
  /** The link's own health check: its failure is the answer, not a reason for another. */
  probe?: boolean;
}

/**
 * msm's own errors (the daemon unreachable, the server exited or failed, the proxy exiting) as opposed to an error
 * the server itself answered: only these make the profile ask whether the target still works.
 */
export function isMsmFailure(message: JsonRpcMessage): boolean {
  const error = message.error as { code?: unknown; message?: unknown } | undefined;
  if (!error || error.code !== UPSTREAM_ERROR || typeof error.message !== "string") return false;
  return /^(msm: |The "[^"]*" MCP server |the "[^"]*" server )/.test(error.message);
}

export class TargetLink {
  readonly target: string;
  readonly index: number;
  state: LinkState = "starting";
  /** Why the target is not working, for the answers to requests meant for it. */
  problem: string | undefined;
  /** Its answer to the session's initialize (or server/discover). */
  initializeResult: Json | undefined;
  /** A list request it did not answer in time: later lists do not wait for it until it answers something. */
  slow = false;
  /** Its lists as last given (every page), each with a version that changes when the list does. */
  readonly lists = new Map<ListMethod, { list: TargetList; version: number }>();
  /** Resource URIs it listed or named in a tool result, its templates, and their scheme://authority prefixes. */
  readonly uris = new Set<string>();
  templates: { text: string; pattern: RegExp }[] = [];

  private session: Promise<Session | undefined> | undefined;
  private readonly waiting = new Map<JsonRpcId, Waiting>();
  private initialize: JsonRpcMessage | undefined;
  private initialized: JsonRpcMessage | undefined;
  /** The session got initialize through and its initialize was answered with a result at least once. */
  private established = false;
  private probing = false;
  private retryTimer: Timer | undefined;
  private failures = 0;
  private closed = false;

  constructor(private readonly options: LinkOptions) {
    this.target = options.target;
    this.index = options.index;
  }

  /** Opens its session now (a target with no cache entry connects at once, as a session of it alone would). */
  start(): void {
    this.session ??= this.openSession();
  }

  private openSession(): Promise<Session | undefined> {
    return this.options
      .open((message) => this.fromTarget(message))
      .then(
        (session) => session,
        (error: unknown) => {
          this.down(error instanceof Error ? error.message : String(error));
          return undefined;
        },
      );
  }

  /**
   * Sends the editor's initialize (under the link's own id) and resolves with the target's answer; a failure marks
   * the target down, and it is tried again later with the same initialize.
   */
  async open(initialize: JsonRpcMessage): Promise<JsonRpcMessage> {
    this.initialize = initialize;
    const answer = await this.request(initialize.method!, initialize.params as Json | undefined);
    this.afterInitialize(answer);
    return answer;
  }

  private afterInitialize(answer: JsonRpcMessage): void {
    const result = answer.result;
    if (result && typeof result === "object") {
      this.established = true;
      this.initializeResult = result as Json;
      this.up();
    } else if (!this.closed) this.down(errorText(answer));
  }

  /** The 2026-07-28 revision's opening: a target that answers it is working; one that refuses it is not failing. */
  async discover(message: JsonRpcMessage): Promise<JsonRpcMessage> {
    const answer = await this.request(message.method!, message.params as Json | undefined);
    if (answer.result && typeof answer.result === "object") {
      this.established = true;
      this.initializeResult = answer.result as Json;
      this.up();
    }
    return answer;
  }

  /** The editor's notifications/initialized: passed on now, and again after the target is opened anew. */
  sendInitialized(message: JsonRpcMessage): void {
    this.initialized = message;
    if (this.initialize) void this.deliver(message);
  }

  /**
   * A request of the profile's (or the editor's, under a new id): `answer` gets the target's answer, or an error
   * answer when it cannot be sent. Returns the id it went under, for a cancellation.
   */
  send(method: string, params: Json | undefined, answer: (message: JsonRpcMessage) => void, probe = false): JsonRpcId {
    const id = nextId();
    const message: JsonRpcMessage = { jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) };
    this.waiting.set(id, { answer, probe });
    const refused = this.options.rules.fromEditor(message);
    if (refused) this.settle(refused);
    else void this.deliver(message);
    return id;
  }

  request(method: string, params: Json | undefined): Promise<JsonRpcMessage> {
    return new Promise((resolve) => this.send(method, params, resolve));
  }

  /** A notification, or the editor's answer to one of the target's requests. */
  notify(message: JsonRpcMessage): void {
    void this.deliver(message);
  }

  /**
   * Tells the target the editor cancelled a request. An answer that still comes is passed on (as a server's late
   * answer reaches its client directly), but none is made up for it when the session ends.
   */
  cancel(id: JsonRpcId, reason?: unknown): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    waiting.cancelled = true;
    void this.deliver({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, ...(reason !== undefined ? { reason } : {}) } });
  }

  /** Whether a request may be sent at all: a target never opened has no session to take it. */
  get reachable(): boolean {
    return this.state !== "down" || this.established;
  }

  async close(options: CloseOptions): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const session = await this.session;
    await session?.close(options).catch(() => {});
    for (const [id, waiting] of [...this.waiting]) {
      if (waiting.cancelled) this.waiting.delete(id);
      else this.settle(errorResponse(id, UPSTREAM_ERROR, "msm: the proxy is exiting (stdin closed) before the MCP server answered"));
    }
  }

  private async deliver(message: JsonRpcMessage): Promise<void> {
    this.start();
    const session = await this.session;
    if (session) {
      session.send(message);
      return;
    }
    if (isRequest(message)) this.settle(errorResponse(message.id, UPSTREAM_ERROR, `msm: ${this.problem ?? "the target cannot be reached"}`));
  }

  /** Everything the target sends: answers to the link's requests are settled here, the rest goes to the profile. */
  private fromTarget(raw: JsonRpcMessage): void {
    const message = this.options.rules.toEditor(raw);
    if (!message) return;
    const isAnswer = message.method === undefined && message.id !== undefined && message.id !== null;
    if (!isAnswer) {
      this.options.onMessage(this, message);
      return;
    }
    this.settle(message);
  }

  private settle(message: JsonRpcMessage): void {
    const waiting = this.waiting.get(message.id as JsonRpcId);
    if (!waiting) return;
    this.waiting.delete(message.id as JsonRpcId);
    if (isMsmFailure(message) && !waiting.probe) this.suspect();
    waiting.answer(message);
  }

  /** msm could not get an answer from the target: ask it whether it still works. */
  private suspect(): void {
    if (this.probing || this.closed || this.state === "down") return;
    void this.probe();
  }

  private async probe(): Promise<boolean> {
    this.probing = true;
    try {
      if (!this.established) {
        // Never opened: a new session, initialized as the editor's own was (once the editor has sent it).
        if (!this.initialize) {
          this.down(this.problem ?? "not opened yet");
          return false;
        }
        const old = this.session;
        this.session = this.openSession();
        void old?.then((session) => session?.close({ graceMs: 0 })).catch(() => {});
        let timer: Timer | undefined;
        const answer = await Promise.race([
          this.request(this.initialize.method!, this.initialize.params as Json | undefined),
          new Promise<JsonRpcMessage>((resolve) => {
            timer = setTimeout(() => resolve(errorResponse(0, UPSTREAM_ERROR, "msm: no answer to initialize")), PROBE_TIMEOUT_MS * 2);
          }),
        ]);
        clearTimeout(timer);
        this.afterInitialize(answer);
        if (this.state === "up" && this.initialized) void this.deliver(this.initialized);
        return this.state === "up";
      }
      // A tools/list reaches the server itself (a host answers ping for its child, whatever state the child is in);
      // a target without tools can only be pinged.
      const method =
        this.initializeResult?.capabilities && typeof this.initializeResult.capabilities === "object" && "tools" in this.initializeResult.capabilities
          ? "tools/list"
          : "ping";
      let timer: Timer | undefined;
      let id: JsonRpcId | undefined;
      const answer = await Promise.race([
        new Promise<JsonRpcMessage>((resolve) => {
          id = this.send(method, undefined, resolve, true);
        }),
        new Promise<JsonRpcMessage>((resolve) => {
          timer = setTimeout(
            () => resolve(errorResponse(0, UPSTREAM_ERROR, `msm: no answer to ${method} within ${PROBE_TIMEOUT_MS / 1000} s`)),
            PROBE_TIMEOUT_MS,
          );
        }),
      ]);
      clearTimeout(timer);
      if (id !== undefined && this.waiting.has(id)) {
        this.cancel(id, "no answer in time");
        this.waiting.delete(id);
      }
      if ("result" in answer) {
        this.up();
        return true;
      }
      this.down(errorText(answer));
      return false;
    } finally {
      this.probing = false;
    }
  }

  private up(): void {
    this.failures = 0;
    this.problem = undefined;
    clearTimeout(this.retryTimer);
    if (this.state === "up") return;
    this.state = "up";
    if (this.initializeResult) this.options.onState(this);
  }

  private down(problem: string): void {
    if (this.closed) return;
    this.problem = problem;
    const was = this.state;
    this.state = "down";
    if (was !== "down") {
      this.options.log.warn(`target ${this.target} is not working (${problem}); its tools are hidden until it answers again`);
      this.options.onState(this);
    }
    clearTimeout(this.retryTimer);
    const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]!;
    this.retryTimer = setTimeout(() => void this.probe(), wait);
    this.retryTimer.unref?.();
  }
}

function errorText(answer: JsonRpcMessage): string {
  const error = answer.error as { message?: unknown } | undefined;
  const text = typeof error?.message === "string" ? error.message : "no answer";
  return text.replace(/^msm: /, "");
}
