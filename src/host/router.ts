import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import type { ConsolaInstance } from "consola";
import type { ResolvedTarget } from "../lib/config.ts";
import { msmEnv } from "../lib/env.ts";
import type { ChildStatus } from "../lib/host-status.ts";
import { errorResponse, isRequest, isResponse, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { userHome } from "../lib/paths.ts";
import { groupRssBytes } from "../lib/proc.ts";
import { StdioChild } from "./child.ts";
import { Mux, Subscriptions } from "./mux.ts";

export type HostedTarget = Extract<ResolvedTarget, { kind: "hosted" }>;

/** A session at the host, as the router sees it. */
export interface Client {
  readonly id: string;
  readonly project: string;
  /** The capabilities it declared in its `initialize`. */
  readonly capabilities: Record<string, unknown>;
  /** Sends a message to the session; `relatedRequestId` puts it on the stream of that request of the session. */
  send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void;
}

/**
 * Waits before restart number 1, 2, … after crashes in a row; one more crash is a crash loop (`failed`).
 * MSM_BACKOFF_MS (comma-separated) replaces it, as for daemons, so a test can drive a crash loop quickly.
 */
export const CHILD_BACKOFF_MS = msmEnv().backoffMs ?? [1_000, 2_000, 4_000, 8_000, 16_000];
/** A child that ran this long is stable again: its next crash starts the backoff from the beginning. */
export const CHILD_STABLE_MS = 60_000;
/** stderr lines shown with a failed child. */
const FAILED_LINES = 6;

function backoffFromEnv(text: string | undefined): number[] | undefined {
  const steps = text?.split(",").map(Number);
  return steps?.length && steps.every((n) => Number.isFinite(n) && n >= 0) ? steps : undefined;
}

/** The client capabilities msm can route to some session (or answer itself): what the child is told at initialize. */
export const ROUTABLE_CAPABILITIES = { roots: { listChanged: true }, sampling: {}, elicitation: {} };

/** Which declared capability a server→client request needs. */
const NEEDS: Record<string, string> = { "roots/list": "roots", "sampling/createMessage": "sampling", "elicitation/create": "elicitation" };

type State = ChildStatus["state"];

export interface ChildHooks {
  /** Where the child's stderr lines go (the target's log, tagged with the project). */
  stderr(line: string): void;
  /** The child was stopped for idleness: its owner forgets it. */
  idle(child: SharedChild): void;
  /** A process was started / is gone (the host keeps a record, so a host that dies leaves no orphans). */
  spawned?(pid: number): void;
  exited?(pid: number): void;
}

/**
 * One child process and every session it serves: the child is initialized once and later sessions get the cached
 * answer; requests, progress tokens and cancellations are remapped per session (mux.ts); server→client requests go to
 * a session that can answer them and is waiting on the child; a crash fails what was in flight, and the child is
 * restarted with backoff and re-initialized with the same parameters, sessions carrying on.
 */
export class SharedChild {
  state: State = "stopped";
  readonly clients = new Set<Client>();
  private child: StdioChild | undefined;
  private readonly mux = new Mux<Client>();
  private readonly subscriptions = new Subscriptions<Client>();
  private initParams: Record<string, unknown> | undefined;
  private initResult: Record<string, unknown> | undefined;
  private toolsJson: string | undefined;
  private crashes = 0;
  restarts = 0;
  private runningSince = 0;
  private note: string | null = null;
  private lastStderr: string[] = [];
  private backoffTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  private stopping: Promise<void> | undefined;
  /** Sessions waiting for the child to be running. */
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Messages of sessions that arrived while the child was (re)starting, sent in order once it runs. */
  private queued: { client: Client; message: JsonRpcMessage }[] = [];

  constructor(
    readonly target: HostedTarget,
    /** The project folder this child serves; for "global", undefined. */
    readonly project: string | undefined,
    private readonly log: ConsolaInstance,
    private readonly hooks: ChildHooks,
  ) {}

  private get label(): string {
    return this.project ? `child for ${this.project}` : "global child";
  }

  /**
   * A new session: starts the child if needed and waits (up to startTimeoutSeconds: `npx -y` may download first)
   * until it runs. Returns the initialize result to answer the session with.
   */
  async attach(client: Client, initialize: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.clients.add(client);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.initParams ??= {
      protocolVersion: initialize.protocolVersion,
      capabilities: ROUTABLE_CAPABILITIES,
      clientInfo: initialize.clientInfo ?? { name: "msm", version: "0" },
    };
    try {
      await this.ready();
    } catch (error) {
      this.detach(client);
      throw error;
    }
    return this.initResult!;
  }

  private ready(): Promise<void> {
    if (this.state === "running") return Promise.resolve();
    if (this.state === "failed") return Promise.reject(new Error(this.failedMessage()));
    if (this.state === "stopped") void this.start();
    const timeoutMs = this.target.startTimeoutSeconds * 1000;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const tail = this.child?.stderrTail.slice(-FAILED_LINES) ?? [];
        reject(new Error(`the "${this.target.name}" server (${this.label}) did not start within ${this.target.startTimeoutSeconds} s${lines(tail)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Spawns the child and initializes it with the cached parameters. */
  private async start(): Promise<void> {
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.state = "starting";
    const fill = (text: string) => (this.project ? text.replaceAll("{project}", this.project) : text);
    const env: Record<string, string | undefined> = { ...process.env };
    delete env.MSM_DETACHED;
    for (const [key, value] of Object.entries(this.target.env)) env[key] = fill(value);
    const cwd = this.target.cwd ? fill(this.target.cwd) : (this.project ?? userHome());
    const command = [this.target.command, ...this.target.args.map(fill)];
    let child: StdioChild;
    try {
      child = new StdioChild({ command, cwd, env }, {
        message: (message) => this.fromChild(child, message),
        stderr: (line) => this.hooks.stderr(line),
        exit: (code, signal) => this.exited(child, code, signal),
      });
    } catch (error) {
      // Not a crash to retry: the command cannot be run at all.
      this.fail(`could not run "${this.target.command}" in ${cwd} (${(error as Error).message}); check "command" and "cwd" of targets.${this.target.name} in config.json`);
      return;
    }
    this.child = child;
    this.hooks.spawned?.(child.pid);
    this.log.info(`${this.label}: started pid ${child.pid}: ${command.join(" ")}`);
    const init = await this.internal(child, "initialize", this.initParams, this.target.startTimeoutSeconds * 1000);
    if (this.child !== child) return;
    if (init.error !== undefined || typeof init.result !== "object" || init.result === null) {
      this.log.warn(`${this.label}: initialize failed: ${JSON.stringify(init.error ?? init.result)}`);
      void child.stop();
      return; // exited() counts the crash
    }
    this.initResult = init.result as Record<string, unknown>;
    child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const restarted = this.toolsJson !== undefined;
    if ((this.initResult.capabilities as { tools?: unknown } | undefined)?.tools !== undefined) {
      const tools = await this.internal(child, "tools/list", {});
      if (this.child !== child) return;
      const json = JSON.stringify(tools.result ?? null);
      if (restarted && json !== this.toolsJson) this.broadcast({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
      this.toolsJson = json;
    }
    for (const uri of this.subscriptions.uris()) void this.internal(child, "resources/subscribe", { uri });
    this.state = "running";
    this.runningSince = Date.now();
    this.note = null;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
    for (const { client, message } of this.queued.splice(0)) if (this.clients.has(client)) this.fromClient(client, message);
    // Everyone may have left while it started.
    if (this.clients.size === 0) this.idleLater();
  }

  /** A request msm itself makes of the child (initialize, tools/list, subscribe); resolves with the answer or an error. */
  private internal(child: StdioChild, method: string, params: unknown, timeoutMs?: number): Promise<JsonRpcMessage> {
    return new Promise((resolve) => {
      const timer = timeoutMs ? setTimeout(() => resolve(errorResponse(0, UPSTREAM_ERROR, `no answer to ${method} within ${timeoutMs / 1000} s`)), timeoutMs) : undefined;
      const done = (answer: JsonRpcMessage) => {
        clearTimeout(timer);
        resolve(answer);
      };
      const message = this.mux.request(undefined, { jsonrpc: "2.0", id: 0, method, params }, done);
      if (!child.send(message)) done(errorResponse(0, UPSTREAM_ERROR, "the child is not running"));
    });
  }

  private exited(child: StdioChild, code: number | null, signal: string | null): void {
    this.hooks.exited?.(child.pid);
    if (this.child !== child) return;
    this.child = undefined;
    const how = code !== null ? `exit code ${code}` : `signal ${signal ?? "?"}`;
    this.lastStderr = child.stderrTail.slice(-FAILED_LINES);
    const asked = this.stopping !== undefined;
    const why = asked ? `was stopped (${how})` : `exited (${how}); msm is restarting it, try again`;
    for (const entry of this.mux.failAll()) {
      const answer = errorResponse(entry.id, UPSTREAM_ERROR, `The "${this.target.name}" MCP server ${why}.`);
      if (entry.resolve) entry.resolve(answer);
      else if (entry.session && this.clients.has(entry.session)) entry.session.send(answer);
    }
    if (asked) return;
    this.log.warn(`${this.label}: pid ${child.pid} ${how}${lines(this.lastStderr)}`);
    if (this.state === "running" && Date.now() - this.runningSince >= CHILD_STABLE_MS) this.crashes = 0;
    this.crashes++;
    if (this.clients.size === 0) {
      // Nobody to serve: the next session starts it again.
      this.state = "stopped";
      this.note = `exited (${how})`;
      return;
    }
    if (this.crashes > CHILD_BACKOFF_MS.length) {
      this.fail(`crashed ${this.crashes} times in a row; last: ${how}`);
      return;
    }
    const delay = CHILD_BACKOFF_MS[this.crashes - 1]!;
    this.state = "backoff";
    this.note = `exited (${how}); restarting in ${delay / 1000} s`;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.restarts++;
      void this.start();
    }, delay);
    this.backoffTimer.unref?.();
  }

  private fail(why: string): void {
    this.state = "failed";
    this.note = why;
    this.log.error(`${this.label}: ${why}; giving up until "msm restart ${this.target.name}"`);
    const error = new Error(this.failedMessage());
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    for (const { client, message } of this.queued.splice(0)) {
      if (isRequest(message)) client.send(errorResponse(message.id, UPSTREAM_ERROR, error.message));
    }
  }

  private failedMessage(): string {
    return `the "${this.target.name}" server (${this.label}) ${this.note ?? "failed"}${lines(this.lastStderr)}\nFix the cause, then run "msm restart ${this.target.name}".`;
  }

  /** A message from a session. */
  fromClient(client: Client, message: JsonRpcMessage): void {
    if (isResponse(message)) {
      const answer = this.mux.outgoingAnswer(client, message);
      if (answer) this.child?.send(answer);
      return;
    }
    if (!isRequest(message)) return this.notificationFromClient(client, message);
    if (message.method === "ping") return client.send({ jsonrpc: "2.0", id: message.id, result: {} });
    if (this.state !== "running" || !this.child) {
      if (this.state === "failed") return client.send(errorResponse(message.id, UPSTREAM_ERROR, this.failedMessage()));
      this.queued.push({ client, message });
      if (this.state === "stopped") void this.ready().catch(() => {});
      return;
    }
    if (message.method === "resources/subscribe" || message.method === "resources/unsubscribe") {
      const uri = String((message.params as { uri?: unknown } | undefined)?.uri ?? "");
      const tellChild = message.method === "resources/subscribe" ? this.subscriptions.add(client, uri) : this.subscriptions.remove(client, uri);
      // The child already knows (or has no reason to know): answer here, as the child would have.
      if (!tellChild) return client.send({ jsonrpc: "2.0", id: message.id, result: {} });
    }
    this.child.send(this.mux.request(client, message));
  }

  private notificationFromClient(client: Client, message: JsonRpcMessage): void {
    switch (message.method) {
      // The child heard it once, from msm, when it was first initialized; again would restart its setup.
      case "notifications/initialized":
        return;
      case "notifications/cancelled": {
        const params = (message.params ?? {}) as { requestId?: unknown };
        const childId = this.mux.cancelled(client, params.requestId);
        if (childId !== undefined) this.child?.send({ ...message, params: { ...params, requestId: childId } });
        return;
      }
      // Progress of a server→client request: msm gives those no token, so there is nothing to match.
      case "notifications/progress":
        return;
      default:
        if (this.state === "running") this.child?.send(message);
    }
  }

  /** A message from the child. */
  private fromChild(child: StdioChild, message: JsonRpcMessage): void {
    if (this.child !== child) return;
    if (isResponse(message)) {
      const found = this.mux.response(message);
      if (!found) return;
      if (found.entry.resolve) found.entry.resolve(found.message);
      else if (found.entry.session && this.clients.has(found.entry.session)) found.entry.session.send(found.message);
      return;
    }
    if (isRequest(message)) return this.requestFromChild(child, message);
    const params = (message.params ?? {}) as Record<string, unknown>;
    switch (message.method) {
      case "notifications/progress": {
        const owned = this.mux.progress(message);
        if (owned && this.clients.has(owned.session)) owned.session.send(owned.message, owned.requestId);
        return;
      }
      case "notifications/cancelled": {
        const owner = this.mux.outgoingCancelled(params.requestId);
        if (owner) owner.session.send({ ...message, params: { ...params, requestId: owner.id } });
        return;
      }
      case "notifications/resources/updated":
        for (const client of this.subscriptions.subscribers(String(params.uri ?? ""))) client.send(message);
        return;
      default:
        // list_changed, log messages and anything else about the server: every session of this child.
        this.broadcast(message);
    }
  }

  private requestFromChild(child: StdioChild, message: JsonRpcMessage & { id: JsonRpcId; method: string }): void {
    if (message.method === "ping") {
      child.send({ jsonrpc: "2.0", id: message.id, result: {} });
      return;
    }
    const needs = NEEDS[message.method];
    // A session that can answer and is waiting on the child right now: the one whose call most likely caused this.
    const waiting = this.mux.latest((c) => this.clients.has(c) && (needs === undefined || c.capabilities[needs] !== undefined));
    if (waiting) {
      waiting.session.send(this.mux.outgoingRequest(waiting.session, message), waiting.id);
      return;
    }
    child.send(this.answerLocally(message.method, message.id));
  }

  /** msm's own answer to a server→client request no session can take. */
  private answerLocally(method: string, id: JsonRpcId): JsonRpcMessage {
    switch (method) {
      case "roots/list": {
        const roots = this.project ? [{ uri: pathToFileURL(this.project).href, name: basename(this.project) }] : [];
        return { jsonrpc: "2.0", id, result: { roots } };
      }
      case "elicitation/create":
        return { jsonrpc: "2.0", id, result: { action: "cancel" } };
      case "sampling/createMessage":
        return errorResponse(id, -32601, "No session connected through msm can sample right now (none declared sampling with a request in flight).");
      default:
        return errorResponse(id, -32601, `No session connected through msm can answer "${method}" right now.`);
    }
  }

  private broadcast(message: JsonRpcMessage): void {
    for (const client of this.clients) client.send(message);
  }

  /** A session left (closed, expired or cut off): what it had at the child is cancelled or answered by msm. */
  detach(client: Client): void {
    if (!this.clients.delete(client)) return;
    const { cancel, unanswered } = this.mux.dropSession(client);
    for (const requestId of cancel) this.child?.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason: "the session closed" } });
    for (const { childId, method } of unanswered) this.child?.send(this.answerLocally(method, childId));
    const child = this.child;
    if (child && this.state === "running") for (const uri of this.subscriptions.dropSession(client)) void this.internal(child, "resources/unsubscribe", { uri });
    else this.subscriptions.dropSession(client);
    this.queued = this.queued.filter((q) => q.client !== client);
    if (this.clients.size === 0) this.idleLater();
  }

  /** With no session left: stop after idleMinutes (never when 0), unless one attaches first. */
  private idleLater(): void {
    clearTimeout(this.idleTimer);
    const ms = this.target.idleMinutes * 60_000;
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.clients.size > 0) return;
      void this.stop(`idle for ${this.target.idleMinutes} min`).then(() => this.hooks.idle(this));
    }, ms);
    this.idleTimer.unref?.();
  }

  /** Stops the child (stdin close → SIGTERM → SIGKILL of its group); it stays stopped until a session needs it. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    clearTimeout(this.backoffTimer);
    clearTimeout(this.idleTimer);
    this.backoffTimer = this.idleTimer = undefined;
    const child = this.child;
    this.stopping = (async () => {
      if (child) {
        this.log.info(`${this.label}: stopping pid ${child.pid} (${reason})`);
        await child.stop();
      }
      this.state = "stopped";
      this.note = reason;
    })();
    try {
      await this.stopping;
    } finally {
      this.stopping = undefined;
    }
  }

  /** `msm restart NAME --project DIR`: a fresh child, crash count and failed state forgotten; sessions stay. */
  async restart(): Promise<void> {
    await this.stop("restarting");
    this.crashes = 0;
    this.lastStderr = [];
    if (this.clients.size > 0) {
      this.restarts++;
      await this.ready().catch(() => {});
    }
  }

  /** The host is going away: no waiting, no orphans. */
  kill(): void {
    clearTimeout(this.backoffTimer);
    clearTimeout(this.idleTimer);
    this.child?.kill();
  }

  status(): ChildStatus {
    const child = this.state === "running" ? this.child : undefined;
    return {
      project: this.project ?? null,
      share: this.target.share,
      state: this.state,
      pid: this.child?.pid ?? null,
      uptimeSeconds: child ? Math.round((Date.now() - this.runningSince) / 1000) : null,
      restarts: this.restarts,
      sessions: this.clients.size,
      rssBytes: this.child ? (groupRssBytes(this.child.pid) ?? null) : null,
      note: this.note,
      lastStderr: this.state === "failed" ? this.lastStderr : [],
    };
  }
}

function lines(tail: string[]): string {
  return tail.length ? `\nLast stderr lines:\n  ${tail.join("\n  ")}` : "";
}
