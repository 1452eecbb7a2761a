import type { ConsolaInstance } from "consola";
import { withoutMsmMarkers } from "../lib/base-env.ts";
import { formatMinutes } from "../lib/format.ts";
import { RestartPolicy } from "../lib/restart-policy.ts";
import type { ChildStatus } from "../lib/host-status.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import type { ChildProfile, Client, HostedTarget } from "./types.ts";
import { errorResponse, isRequest, isResponse, parseServerText, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { userHome } from "../lib/paths.ts";
import { fillProject } from "../lib/placeholders.ts";
import { groupRssBytes } from "../lib/proc.ts";
import { resolveStrings, needsResolving, UnresolvedError } from "../lib/secrets/resolve.ts";
import { RAW_ANSWER_BYTES, StdioChild, type ChildSpec } from "./child.ts";
import { Mux, Subscriptions } from "./mux.ts";
import { joinLine, replaceBytes, type LinePieces } from "../lib/wire/lines.ts";

const encoder = new TextEncoder();
const lenient = new TextDecoder();

/** A child that ran this long is stable again: its next crash starts the backoff from the beginning. */
export const CHILD_STABLE_MS = 60_000;
/** What msm's own request of a child that is exiting is answered. */
const NOT_RUNNING = "the child is not running";
/** stderr lines shown with a failed child. */
const FAILED_LINES = 6;

/** Which declared capability a server→client request needs. */
const NEEDS: Record<string, string> = { "roots/list": "roots", "sampling/createMessage": "sampling", "elicitation/create": "elicitation" };

/**
 * How long a server→client request whose session cannot be told for certain waits for the doubt to clear (all but
 * one of the sessions that were waiting on the child got their answers) before msm answers it with an error.
 */
export const AMBIGUOUS_HOLD_MS = 30_000;
/**
 * As many questions held as sessions waiting on the child: each is most likely waiting for its own, and none will
 * finish. After this long without an answer from the child, the held questions are refused (the calls get errors)
 * rather than left to each client's own timeout.
 */
export const STUCK_HOLD_MS = 500;
/** How long a joining session may take to answer msm's `roots/list` before it is assumed to share the child's roots. */
export const ROOTS_PROBE_MS = 10_000;
/** Error a client without a handler answers (the SDKs' own "Method not found"). */
const METHOD_NOT_FOUND = -32601;
const PROBE_PREFIX = "msm-roots-";

type State = ChildStatus["state"];

export interface ChildHooks {
  /** Where the child's stderr lines go (the target's log, tagged with the project). */
  stderr(line: string): void;
  /** The child was stopped for idleness: its owner forgets it. */
  idle(child: SharedChild): void;
  /** A process was started / is gone (the host keeps a record, so a host that dies leaves no orphans). */
  spawned?(pid: number): void;
  exited?(pid: number): void;
  /** Has a child of this target been seen sending server→client requests (its sessions then take turns)? */
  sendsRequests?(): boolean;
  /** This child was just seen sending one: later children of the target take turns from the start. */
  learnedRequests?(): void;
  /**
   * The child asked for roots; these sessions declared roots but were not asked yet (its first session was): as
   * their own servers would, each is asked, and one whose roots differ gets a child of its own (app.ts).
   */
  rootsAsked?(child: SharedChild, unasked: Client[]): void;
}

/**
 * One child process and every session it serves. Only sessions that would show the server the same thing share it
 * (app.ts keys children by share, protocol version, capabilities and roots): the child is initialized with the first
 * one's `initialize`, and later ones get the cached answer — what the server gave that very request. Requests,
 * progress tokens and cancellations are remapped per session (mux.ts). A server→client request goes to the one session
 * it can belong to, never a guess: when several sessions wait on the child, it is held until only one does, and from
 * then on the child serves one session's calls at a time (docs/hosted.md, "What msm changes"). A crash fails what was
 * in flight; the child is restarted with backoff and re-initialized with the same parameters, sessions carrying on.
 */
export class SharedChild {
  state: State = "stopped";
  readonly clients = new Set<Client>();
  private child: StdioChild | undefined;
  private readonly mux = new Mux<Client>();
  private readonly subscriptions = new Subscriptions<Client>();
  private readonly initParams: Record<string, unknown>;
  private initResult: Record<string, unknown> | undefined;
  private toolsJson: string | undefined;
  /** Backoff after crashes in a row and the crash-loop breaker: the same policy as the supervisor's daemons. */
  private readonly policy = new RestartPolicy({ stableAfterMs: CHILD_STABLE_MS });
  restarts = 0;
  private runningSince = 0;
  private note: string | null = null;
  private lastStderr: string[] = [];
  private backoffTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  private stopping: Promise<void> | undefined;
  /** Counts starts and stops: a start that awaited the keychain goes on only if nothing happened meanwhile. */
  private generation = 0;
  /** The child failed because a reference could not be resolved: the next session or request tries again. */
  private unresolved = false;
  /** Why the running child is being stopped by msm itself (it never answered initialize, say): what its exit means. */
  private stopReason: string | undefined;
  /** The child has been sent `notifications/initialized` since it last started. */
  private initializedSent = false;
  /**
   * What the child said on hearing `initialized` the first time (servers announce list changes, log a greeting):
   * each later session hears it after its own `initialized`, as it would from a server of its own. Captured until
   * the child's first answer; `startupAudience` heard it live.
   */
  private startupNotes: JsonRpcMessage[] = [];
  private capturingStartup = false;
  private readonly startupAudience = new WeakSet<Client>();
  /** Sessions waiting for the child to be running. */
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Messages of sessions that arrived while the child was (re)starting, sent in order once it runs. */
  private queued: { client: Client; message: JsonRpcMessage }[] = [];
  /**
   * One session's calls at a time, so every server→client request has one certain owner: from the start when the
   * sessions declared sampling or elicitation (a server may ask those at any call, and the first question must not
   * find several sessions waiting), or once the server was seen asking something else.
   */
  private serialized: boolean;
  /** Requests waiting for their session's turn (serialized only), in arrival order. */
  private gate: { client: Client; message: JsonRpcMessage & { id: JsonRpcId; method: string } }[] = [];
  /** Server→client requests whose session was not certain when they came, waiting until it is. */
  private held: { message: JsonRpcMessage & { id: JsonRpcId; method: string }; timer: Timer }[] = [];
  /** The roots the child was last given (a session's own answer): a joining session with other roots gets another child. */
  rootsAnswer: unknown;
  /** An answer to give the child's next `roots/list` without asking (its session was already asked). */
  private presetRoots: unknown;
  private probes = new Map<string, (answer: JsonRpcMessage | undefined) => void>();
  /** Sessions whose roots the child has: its first session's answer, or a probe that matched. */
  readonly rootsGiven = new WeakSet<Client>();
  private rootsWaiters: (() => void)[] = [];
  private nextProbe = 1;

  constructor(
    readonly target: HostedTarget,
    /** The project folder this child serves; for "global", undefined. */
    readonly project: string | undefined,
    readonly profile: ChildProfile,
    private readonly log: ConsolaInstance,
    private readonly hooks: ChildHooks,
  ) {
    this.initParams = profile.initialize;
    this.presetRoots = profile.roots;
    this.rootsAnswer = profile.roots;
    const caps = (profile.initialize.capabilities ?? {}) as Record<string, unknown>;
    this.serialized = !profile.stateless && (caps.sampling !== undefined || caps.elicitation !== undefined || (hooks.sendsRequests?.() ?? false));
  }

  /** Which of its key's pool this child is (1-based; `instances` above 1), undefined without a pool. */
  instance: number | undefined;

  private get label(): string {
    const which = this.instance ? ` (instance ${this.instance})` : "";
    return this.project ? `child for ${this.project}${which}` : `global child${which}`;
  }

  /** What the child's sessions declared, as `msm status` shows it. */
  get variant(): string {
    const caps = Object.keys(this.capabilities).sort();
    return `protocol ${String(this.initParams.protocolVersion)}${this.profile.stateless ? " (stateless)" : ""}; client ${caps.length ? caps.join(", ") : "without capabilities"}`;
  }

  private get capabilities(): Record<string, unknown> {
    return (this.initParams.capabilities ?? {}) as Record<string, unknown>;
  }

  /**
   * A new session: starts the child if needed and waits (up to startTimeoutSeconds: `npx -y` may download first)
   * until it runs. Returns the initialize result to answer the session with.
   */
  async attach(client: Client): Promise<Record<string, unknown>> {
    this.clients.add(client);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    try {
      await this.ready();
    } catch (error) {
      this.detach(client);
      throw error;
    }
    // A session moved here after it initialized (its roots differ from its first child's): the child hears it now.
    if (client.initialized) this.sendInitialized();
    return this.initResult!;
  }

  private ready(): Promise<void> {
    if (this.state === "running") return Promise.resolve();
    // What was missing may be there now (a keychain entry set, an envFile written): try again.
    if (this.state === "failed" && this.unresolved) this.state = "stopped";
    if (this.state === "failed") return Promise.reject(new Error(this.failedMessage()));
    if (this.state === "stopped") void this.start();
    // A stateless child runs as soon as it is spawned, within start()'s first step.
    if ((this.state as State) === "running") return Promise.resolve();
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
    this.initializedSent = false;
    this.stopReason = undefined;
    const generation = ++this.generation;
    const fill = (text: string) => fillProject(text, this.project);
    // What the editor would have given the server: its session's environment (project/session share) or the host's
    // base set (global), and the config's `env` on top.
    const inherited: Record<string, string | undefined> = withoutMsmMarkers(this.profile.env ?? process.env);
    // As written in config.json (references, never their values): what logs and messages show.
    const shown = {
      command: [this.target.command, ...this.target.args.map(fill)],
      cwd: this.target.cwd ? fill(this.target.cwd) : (this.project ?? userHome()),
    };
    let spec: ChildSpec;
    if (needsResolving(this.target, this.target.envFile)) {
      try {
        spec = await this.resolve(inherited, fill);
      } catch (error) {
        if (generation !== this.generation) return;
        if (error instanceof UnresolvedError) return this.fail(error.message, true);
        throw error;
      }
      // Stopped (or restarted) while the keychain answered.
      if (generation !== this.generation) return;
    } else {
      const env = { ...inherited };
      for (const [key, value] of Object.entries(this.target.env)) env[key] = fill(value);
      spec = { command: shown.command, cwd: shown.cwd, env };
    }
    let child: StdioChild;
    try {
      child = new StdioChild(spec, {
        message: (message) => this.fromChild(child, message),
        rawAnswer: (text, span) => this.rawAnswerFromChild(child, text, span),
        stderr: (line) => this.hooks.stderr(line),
        exit: (code, signal) => this.exited(child, code, signal),
      });
    } catch (error) {
      // Not a crash to retry: the command cannot be run at all.
      const why = spec.redact ? spec.redact((error as Error).message) : (error as Error).message;
      this.fail(`could not run "${this.target.command}" in ${shown.cwd} (${why}); check "command" and "cwd" of targets.${this.target.name} in config.json`);
      return;
    }
    this.child = child;
    this.hooks.spawned?.(child.pid);
    this.log.info(`${this.label}: started pid ${child.pid}: ${shown.command.join(" ")}`);
    if (this.profile.stateless) return this.running();
    const init = await this.internal(child, "initialize", this.initParams, this.target.startTimeoutSeconds * 1000);
    if (this.child !== child) return;
    if (init.error !== undefined || typeof init.result !== "object" || init.result === null) {
      const error = init.error as { message?: unknown } | undefined;
      const why = typeof error?.message === "string" ? error.message : JSON.stringify(init.error ?? init.result);
      // A child that is already going says why with its exit (code, signal); one that answered wrong or not at all
      // is stopped, and that is what its exit means.
      if (why === NOT_RUNNING) return;
      this.stopReason = `did not initialize: ${why}`;
      this.log.warn(`${this.label}: ${this.stopReason}`);
      void child.stop();
      return; // exited() counts the crash
    }
    this.initResult = init.result as Record<string, unknown>;
    const restarted = this.toolsJson !== undefined;
    // A server may start its own requests (roots/list) once it hears `initialized`: on a first start it hears it when
    // its session sends it, as it would directly; after a restart at once (every session sent it long ago).
    if (restarted || [...this.clients].some((c) => c.initialized)) {
      this.presetRoots ??= this.rootsAnswer;
      this.sendInitialized();
      if (restarted) await this.compareTools(child, true);
      if (this.child !== child) return;
    }
    for (const uri of this.subscriptions.uris()) void this.internal(child, "resources/subscribe", { uri });
    this.running();
  }

  /** Started (and initialized, where the revision has it): sessions waiting and messages queued go on. */
  private running(): void {
    this.state = "running";
    this.runningSince = Date.now();
    this.note = null;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
    for (const { client, message } of this.queued.splice(0)) if (this.clients.has(client)) this.fromClient(client, message);
    this.settle();
    // Everyone may have left while it started.
    if (this.clients.size === 0) this.idleLater();
  }

  /** `notifications/initialized`, once per start of the child (forwarding it again made servers re-initialize). */
  private sendInitialized(): void {
    const child = this.child;
    if (!child || this.initializedSent || this.initResult === undefined) return;
    this.initializedSent = true;
    if (this.toolsJson === undefined) {
      this.capturingStartup = true;
      // Those that said `initialized` hear it live; the others (still waiting for their own initialize answer, with
      // no stream to hear it on) get it after their own `initialized`.
      for (const client of this.clients) if (client.initialized) this.startupAudience.add(client);
    }
    child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    if (this.toolsJson === undefined) void this.compareTools(child, false);
  }

  /** Remembers the child's tool list; after a restart, a different one is announced to every session. */
  private async compareTools(child: StdioChild, restarted: boolean): Promise<void> {
    if ((this.initResult?.capabilities as { tools?: unknown } | undefined)?.tools === undefined) return;
    const tools = await this.internal(child, "tools/list", {});
    if (this.child !== child) return;
    const json = JSON.stringify(tools.result ?? null);
    if (restarted && json !== this.toolsJson) this.broadcast({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    this.toolsJson = json;
  }

  /** A request msm itself makes of the child (initialize, tools/list, subscribe); resolves with the answer or an error. */
  private internal(child: StdioChild, method: string, params: unknown, timeoutMs?: number): Promise<JsonRpcMessage> {
    return new Promise((resolve) => {
      const timer = timeoutMs
        ? setTimeout(() => resolve(errorResponse(0, UPSTREAM_ERROR, `no answer to ${method} within ${timeoutMs / 1000} s`)), timeoutMs)
        : undefined;
      const done = (answer: JsonRpcMessage) => {
        clearTimeout(timer);
        resolve(answer);
      };
      const message = this.mux.request(undefined, { jsonrpc: "2.0", id: 0, method, params }, done);
      if (!child.send(message)) done(errorResponse(0, UPSTREAM_ERROR, NOT_RUNNING));
    });
  }

  private exited(child: StdioChild, code: number | null, signal: string | null): void {
    this.hooks.exited?.(child.pid);
    if (this.child !== child) return;
    this.child = undefined;
    const how = this.stopReason ?? (code !== null ? `exit code ${code}` : `signal ${signal ?? "?"}`);
    this.stopReason = undefined;
    this.lastStderr = child.stderrTail.slice(-FAILED_LINES);
    const asked = this.stopping !== undefined;
    const why = asked ? `was stopped (${how})` : `exited (${how}); msm is restarting it, try again`;
    for (const entry of this.mux.failAll()) {
      const answer = errorResponse(entry.id, UPSTREAM_ERROR, `The "${this.target.name}" MCP server ${why}.`);
      if (entry.resolve) entry.resolve(answer);
      else if (entry.session && this.clients.has(entry.session)) entry.session.send(answer);
    }
    this.dropHeld();
    if (asked) return;
    this.log.warn(`${this.label}: pid ${child.pid} ${how}${lines(this.lastStderr)}`);
    const verdict = this.policy.crashed(this.state === "running" ? this.runningSince : undefined);
    if (this.clients.size === 0) {
      // Nobody to serve: the next session starts it again.
      this.state = "stopped";
      this.note = `exited (${how})`;
      return;
    }
    if (verdict.action === "fail") {
      this.fail(`crashed ${verdict.crashes} times in a row; last: ${how}`);
      return;
    }
    const delay = verdict.delayMs;
    this.state = "backoff";
    this.note = `exited (${how}); restarting in ${delay / 1000} s`;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.restarts++;
      void this.start();
    }, delay);
    this.backoffTimer.unref?.();
  }

  /**
   * The child's command, working directory and environment with its references resolved (docs/configuration.md,
   * "Secret references"): `${VAR}` from the environment the child inherits — its session's, or the host's base set for
   * a global child — then its envFile, then its `env`.
   */
  private async resolve(inherited: Record<string, string | undefined>, fill: (text: string) => string): Promise<ChildSpec> {
    const session = this.profile.env !== undefined;
    const { target } = this;
    const { strings, fileEnv, redact } = await resolveStrings(
      { command: target.command, args: target.args, env: target.env, ...(target.cwd !== undefined ? { cwd: target.cwd } : {}) },
      {
        target: target.name,
        inherited,
        whose: session ? "the environment of the session that started this child" : "the host's environment (msm's base set)",
        base: !session,
        envFile: target.envFile,
        literal: fill,
      },
    );
    return {
      command: [strings.command!, ...strings.args!],
      cwd: strings.cwd ?? this.project ?? userHome(),
      env: { ...inherited, ...fileEnv, ...strings.env },
      redact,
    };
  }

  /**
   * Gives up on starting until `msm restart`; `unresolved`: a reference could not be resolved, which the user fixes
   * outside msm (a keychain entry, an envFile) — the next session or request tries again by itself.
   */
  private fail(why: string, unresolved = false): void {
    this.state = "failed";
    this.note = why;
    this.unresolved = unresolved;
    if (unresolved) this.log.warn(`${this.label}: ${why}`);
    else this.log.error(`${this.label}: ${why}; giving up until "msm restart ${this.target.name}"`);
    const error = new Error(this.failedMessage());
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    for (const { client, message } of [...this.queued.splice(0), ...this.gate.splice(0)]) {
      if (isRequest(message)) client.send(errorResponse(message.id, UPSTREAM_ERROR, error.message));
    }
  }

  private failedMessage(): string {
    if (this.unresolved) return `the "${this.target.name}" server (${this.label}) ${this.note}. Fix that; the next request tries again.`;
    return `the "${this.target.name}" server (${this.label}) ${this.note ?? "failed"}${lines(this.lastStderr)}\nFix the cause, then run "msm restart ${this.target.name}".`;
  }

  /** A message from a session. */
  fromClient(client: Client, message: JsonRpcMessage): void {
    if (isResponse(message)) return this.answerFromClient(client, message);
    if (!isRequest(message)) return this.notificationFromClient(client, message);
    // The stateless revision has no ping: its server answers it Method not found, so that one is passed on.
    if (message.method === "ping" && !this.profile.stateless) return client.send({ jsonrpc: "2.0", id: message.id, result: {} });
    if (this.state !== "running" || !this.child) {
      if (this.state === "failed" && !this.unresolved) return client.send(errorResponse(message.id, UPSTREAM_ERROR, this.failedMessage()));
      this.queued.push({ client, message });
      if (this.state === "stopped" || this.state === "failed") void this.ready().catch(() => {});
      return;
    }
    if (!this.admits(client)) {
      this.gate.push({ client, message });
      return;
    }
    this.toChild(client, message);
  }

  private toChild(client: Client, message: JsonRpcMessage & { id: JsonRpcId; method: string }): void {
    if (message.method === "resources/subscribe" || message.method === "resources/unsubscribe") {
      const uri = String((message.params as { uri?: unknown } | undefined)?.uri ?? "");
      const tellChild = message.method === "resources/subscribe" ? this.subscriptions.add(client, uri) : this.subscriptions.remove(client, uri);
      // The child already knows (or has no reason to know): answer here, as the child would have.
      if (!tellChild) return client.send({ jsonrpc: "2.0", id: message.id, result: {} });
    }
    const forwarded = this.mux.request(client, message);
    try {
      this.child?.send(forwarded);
    } catch (error) {
      // Parsed, but too deep to write again (a stack overflow): the session hears why, the child nothing.
      this.mux.response({ jsonrpc: "2.0", id: forwarded.id, result: {} });
      client.send(errorResponse(message.id, UPSTREAM_ERROR, `msm: this request could not be passed to the server (${(error as Error).message})`));
    }
  }

  /** The session's answer to a server→client request: back to the child under its own id, or to msm's probe. */
  private answerFromClient(client: Client, message: JsonRpcMessage): void {
    const answer = this.mux.outgoingAnswer(client, message);
    if (!answer) return;
    const childId = answer.message.id;
    if (typeof childId === "string" && childId.startsWith(PROBE_PREFIX)) {
      this.probes.get(childId)?.(answer.message);
      return;
    }
    if (answer.method === "roots/list" && "result" in answer.message) {
      this.rootsAnswer = answer.message.result;
      for (const wake of this.rootsWaiters.splice(0)) wake();
    }
    try {
      this.child?.send(answer.message);
    } catch (error) {
      this.child?.send(errorResponse(childId ?? null, UPSTREAM_ERROR, `msm: the client's answer could not be passed on (${(error as Error).message})`));
    }
  }

  /**
   * With one session's calls at a time (serialized), may this session's request go to the child now? Only when no
   * other session is waiting on the child and none is waiting for its turn (so turns go round).
   */
  private admits(client: Client): boolean {
    if (!this.serialized) return true;
    if (this.gate.length > 0) return false;
    const busy = this.mux.sessionsInFlight();
    return busy.size === 0 || (busy.size === 1 && busy.has(client));
  }

  /** Something at the child ended: held server requests may now have one owner, and the next session its turn. */
  private settle(): void {
    if (this.held.length) this.watchStuck();
    for (const entry of [...this.held]) {
      const owner = this.ownerOf();
      if (owner === "ambiguous") break;
      this.held.splice(this.held.indexOf(entry), 1);
      clearTimeout(entry.timer);
      this.deliverRequest(entry.message, owner);
    }
    if (!this.gate.length || this.state !== "running" || this.mux.sessionsInFlight().size > 0) return;
    const next = this.gate[0]!.client;
    const turn = this.gate.filter((g) => g.client === next);
    this.gate = this.gate.filter((g) => g.client !== next);
    for (const { message } of turn) this.toChild(next, message);
  }

  private notificationFromClient(client: Client, message: JsonRpcMessage): void {
    switch (message.method) {
      case "notifications/initialized":
        // The child hears it once per start, when its first session says it; later sessions hear what it answered.
        this.sendInitialized();
        if (!this.startupAudience.has(client)) for (const note of this.startupNotes) client.send(note);
        this.startupAudience.add(client);
        return;
      case "notifications/cancelled": {
        const params = (message.params ?? {}) as { requestId?: unknown };
        const childId = this.mux.cancelled(client, params.requestId);
        if (childId !== undefined) this.child?.send({ ...message, params: { ...params, requestId: childId } });
        else this.gate = this.gate.filter((g) => !(g.client === client && g.message.id === params.requestId));
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
      this.capturingStartup = false;
      const found = this.mux.response(message);
      if (!found) return;
      if (found.entry.resolve) found.entry.resolve(found.message);
      else if (found.entry.session && this.clients.has(found.entry.session)) found.entry.session.send(found.message);
      this.settle();
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
        for (const h of this.held) if (h.message.id === params.requestId) clearTimeout(h.timer);
        this.held = this.held.filter((h) => h.message.id !== params.requestId);
        return;
      }
      case "notifications/resources/updated":
        for (const client of this.subscriptions.subscribers(String(params.uri ?? ""))) client.send(message);
        return;
      case "notifications/message": {
        // A log line while one session alone waits on the child is about that session's call (a server logs what it
        // was asked); the others' own servers would not have said it. Otherwise it is about the server: everyone.
        const busy = this.mux.sessionsInFlight();
        const only = busy.size === 1 ? [...busy][0]! : undefined;
        if (only && !this.capturingStartup && this.clients.has(only)) return only.send(message, this.mux.latestOf(only));
        break;
      }
    }
    // list_changed, log messages and anything else about the server: every session of this child.
    if (this.capturingStartup) {
      this.startupNotes.push(message);
      for (const client of this.clients) if (this.startupAudience.has(client)) client.send(message);
      return;
    }
    this.broadcast(message);
  }

  /**
   * A large answer: only its id is rewritten, in its bytes, so a 50 MB answer costs the host neither a decode nor a
   * parse nor a copy on the thread every session shares — a session on the line wire gets the child's own bytes. A
   * session that takes text (HTTP) gets it decoded; msm's own requests and sessions that take neither get it parsed.
   */
  private rawAnswerFromChild(child: StdioChild, line: LinePieces, span: { id: number; start: number; end: number }): void {
    if (this.child !== child) return;
    const found = this.mux.response({ jsonrpc: "2.0", id: span.id, result: null });
    if (!found) return;
    const session = found.entry.session;
    if (!found.entry.resolve && session?.sendAnswerBytes) {
      if (this.clients.has(session))
        session.sendAnswerBytes(found.entry.id, replaceBytes(line, span.start, span.end, encoder.encode(JSON.stringify(found.entry.id))));
    } else if (!found.entry.resolve && session?.sendAnswerText) {
      const text = lenient.decode(joinLine(line));
      // The id sits near the start, with JSON's ASCII before it, or near the end, with ASCII after it: its offset in
      // the text counts from that side.
      const at = span.start < RAW_ANSWER_BYTES / 2 ? span.start : text.length - (line.bytes - span.start);
      if (this.clients.has(session))
        session.sendAnswerText(found.entry.id, `${text.slice(0, at)}${JSON.stringify(found.entry.id)}${text.slice(at + (span.end - span.start))}`);
    } else {
      const parsed = parseServerText(lenient.decode(joinLine(line)))?.[0];
      const message = parsed
        ? { ...(parsed as JsonRpcMessage), id: found.entry.id }
        : errorResponse(found.entry.id, UPSTREAM_ERROR, "msm: the server's answer is not JSON");
      if (found.entry.resolve) found.entry.resolve(message);
      else if (session && this.clients.has(session)) session.send(message);
    }
    this.settle();
  }

  private requestFromChild(child: StdioChild, message: JsonRpcMessage & { id: JsonRpcId; method: string }): void {
    if (message.method === "ping") {
      child.send({ jsonrpc: "2.0", id: message.id, result: {} });
      return;
    }
    if (message.method === "roots/list" && this.capabilities.roots !== undefined) return this.rootsFromChild(child, message);
    const needs = NEEDS[message.method];
    const declared = needs !== undefined && this.capabilities[needs] !== undefined;
    const owner = this.ownerOf();
    if (!declared && (needs !== undefined || message.method === "roots/list")) {
      // Every session of this child declared the same capabilities, none this one: each client would answer it
      // "Method not found" itself. The one it is for hears it when that is certain; otherwise msm says the same.
      if (owner !== "ambiguous" && owner !== undefined) return this.deliverRequest(message, owner);
      child.send(errorResponse(message.id, METHOD_NOT_FOUND, "Method not found"));
      return;
    }
    // The child starts requests of its own: from now on one session's calls at a time, so it is always certain.
    if (!this.serialized) {
      this.serialized = true;
      this.hooks.learnedRequests?.();
      this.log.info(`${this.label}: the server sends ${message.method}; calls of different sessions now take turns`);
    }
    if (owner !== "ambiguous") return this.deliverRequest(message, owner);
    const timer = setTimeout(() => this.refuseHeld(message.id), AMBIGUOUS_HOLD_MS);
    timer.unref?.();
    this.held.push({ message, timer });
    this.watchStuck();
  }

  /** A held question msm could not give an owner: refused, so the call that asked it ends with an error. */
  private refuseHeld(id: JsonRpcId): void {
    const entry = this.held.find((h) => h.message.id === id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.held = this.held.filter((h) => h !== entry);
    this.log.warn(`${this.label}: could not tell which session ${entry.message.method} belongs to; answered with an error`);
    this.child?.send(
      errorResponse(
        id,
        UPSTREAM_ERROR,
        `msm: several sessions share this server and it could not be told which one this ${entry.message.method} is for, so it was refused; from now on their calls take turns`,
      ),
    );
  }

  private stuckTimer: Timer | undefined;

  /** Held questions for every session waiting on the child: unless the child answers something soon, none can end. */
  private watchStuck(): void {
    clearTimeout(this.stuckTimer);
    if (!this.held.length || this.held.length < this.mux.sessionsInFlight().size) return;
    this.stuckTimer = setTimeout(() => {
      if (this.held.length && this.held.length >= this.mux.sessionsInFlight().size) for (const { message } of [...this.held]) this.refuseHeld(message.id);
    }, STUCK_HOLD_MS);
    this.stuckTimer.unref?.();
  }

  /**
   * The one session a server→client request can belong to: the only one waiting on the child, or the only one there
   * is. Several waiting (or several idle): ambiguous. undefined: no session at all.
   */
  private ownerOf(): Client | undefined | "ambiguous" {
    const busy = this.mux.sessionsInFlight();
    if (busy.size === 1) return [...busy][0]!;
    if (busy.size === 0 && this.clients.size <= 1) return [...this.clients][0];
    return "ambiguous";
  }

  private deliverRequest(message: JsonRpcMessage & { id: JsonRpcId; method: string }, owner: Client | undefined): void {
    if (!owner) {
      this.child?.send(errorResponse(message.id, UPSTREAM_ERROR, "msm: no session is connected to answer this request"));
      return;
    }
    owner.send(this.mux.outgoingRequest(owner, message), this.mux.latestOf(owner));
  }

  /**
   * The child asks for roots. Every session here gave the same ones (app.ts moves a session with other roots to a
   * child of its own), so the first session's client answers; after a restart, or for a child started for a session
   * msm already asked, the answer that client gave is repeated instead of asking it twice.
   */
  private rootsFromChild(child: StdioChild, message: JsonRpcMessage & { id: JsonRpcId; method: string }): void {
    if (this.presetRoots !== undefined) {
      const result = this.presetRoots;
      this.presetRoots = undefined;
      child.send({ jsonrpc: "2.0", id: message.id, result } as JsonRpcMessage);
      return;
    }
    const owner = [...this.clients][0];
    if (owner) {
      this.rootsGiven.add(owner);
      owner.send(this.mux.outgoingRequest(owner, message), this.mux.latestOf(owner));
      const unasked = [...this.clients].filter((c) => !this.rootsGiven.has(c));
      for (const c of unasked) this.rootsGiven.add(c);
      if (unasked.length) this.hooks.rootsAsked?.(this, unasked);
      return;
    }
    if (this.rootsAnswer !== undefined) child.send({ jsonrpc: "2.0", id: message.id, result: this.rootsAnswer } as JsonRpcMessage);
    else child.send(errorResponse(message.id, UPSTREAM_ERROR, "msm: no session is connected to answer roots/list"));
  }

  /** Asks a session for its roots (as this child asked its first session); undefined when it does not answer in time. */
  probeRoots(client: Client): Promise<unknown> {
    const id = `${PROBE_PREFIX}${this.nextProbe++}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), ROOTS_PROBE_MS);
      const done = (answer: JsonRpcMessage | undefined) => {
        clearTimeout(timer);
        this.probes.delete(id);
        resolve(answer && "result" in answer ? answer.result : undefined);
      };
      this.probes.set(id, done);
      client.send(this.mux.outgoingRequest(client, { jsonrpc: "2.0", id, method: "roots/list" }));
    });
  }

  /** Resolves once the child has been given roots (at most ROOTS_PROBE_MS from now). */
  whenRootsKnown(): Promise<void> {
    if (this.rootsAnswer !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ROOTS_PROBE_MS);
      this.rootsWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Does this session have a request at the child? (A session is only moved to another child when it has none.) */
  busy(client: Client): boolean {
    return this.mux.busy(client);
  }

  /** Would this child, started for these roots, see what it already sees? */
  sameRoots(roots: unknown): boolean {
    return (
      canonicalJson((roots as { roots?: unknown } | undefined)?.roots ?? null) ===
      canonicalJson((this.rootsAnswer as { roots?: unknown } | undefined)?.roots ?? null)
    );
  }

  private dropHeld(): void {
    for (const { timer } of this.held) clearTimeout(timer);
    this.held = [];
  }

  private broadcast(message: JsonRpcMessage): void {
    for (const client of this.clients) client.send(message);
  }

  /** A session left (closed, expired or cut off): what it had at the child is cancelled or answered by msm. */
  detach(client: Client): void {
    if (!this.clients.delete(client)) return;
    const { cancel, unanswered } = this.mux.dropSession(client);
    for (const requestId of cancel)
      this.child?.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason: "the session closed" } });
    for (const { childId, method } of unanswered) {
      if (typeof childId === "string" && childId.startsWith(PROBE_PREFIX)) this.probes.get(childId)?.(undefined);
      // What its client would have said had it gone away: nothing. The server learns it is gone by an error.
      else this.child?.send(errorResponse(childId, UPSTREAM_ERROR, `msm: the session that was asked ${method} has closed`));
    }
    const child = this.child;
    if (child && this.state === "running")
      for (const uri of this.subscriptions.dropSession(client)) void this.internal(child, "resources/unsubscribe", { uri });
    else this.subscriptions.dropSession(client);
    this.queued = this.queued.filter((q) => q.client !== client);
    this.gate = this.gate.filter((g) => g.client !== client);
    this.settle();
    if (this.clients.size === 0) this.idleLater();
  }

  /** With no session left: stop after the target's childIdleMinutes (never when 0), unless one attaches first. */
  private idleLater(): void {
    clearTimeout(this.idleTimer);
    const ms = this.target.childIdleMs;
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.clients.size > 0) return;
      void this.stop(`idle for ${formatMinutes(ms / 60_000)}`).then(() => this.hooks.idle(this));
    }, ms);
    this.idleTimer.unref?.();
  }

  /** Stops the child (stdin close → SIGTERM → SIGKILL of its group); it stays stopped until a session needs it. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.generation++;
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
    this.policy.reset();
    this.lastStderr = [];
    if (this.clients.size > 0) {
      this.restarts++;
      await this.ready().catch(() => {});
    }
  }

  /** The host is going away: no waiting, no orphans. */
  kill(): void {
    this.generation++;
    clearTimeout(this.backoffTimer);
    clearTimeout(this.idleTimer);
    this.dropHeld();
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
      variant: this.variant,
      takesTurns: this.serialized,
      ...(this.instance ? { instance: this.instance } : {}),
    };
  }
}

function lines(tail: string[]): string {
  return tail.length ? `\nLast stderr lines:\n  ${tail.join("\n  ")}` : "";
}
