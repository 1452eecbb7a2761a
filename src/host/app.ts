import { existsSync, realpathSync } from "node:fs";
import { availableParallelism } from "node:os";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { paths } from "../lib/paths.ts";
import type { ConsolaInstance } from "consola";
import type { HostStats } from "../lib/host-status.ts";
import { HOST_SETTINGS_PATH, type HostSettings } from "../lib/contracts/host-api.ts";
import { createBaseApp } from "../lib/http/app.ts";
import { routeMcp, sessionTransportOptions } from "../lib/http/daemon.ts";
import { SessionTable } from "../lib/http/sessions.ts";
import { errorResponse, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { decodeProjectHeader, PROJECT_HEADER, SESSION_ENV_META } from "../lib/http/headers.ts";
import { projectProblem } from "../lib/trust.ts";
import type { ChildRecord } from "./leftovers.ts";
import { SharedChild } from "./router.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import type { ChildProfile, Client, HostedTarget } from "./types.ts";
import { type HostSession, HostTransport, HttpHostSession, SESSION_QUEUE_BYTES, WireHostSession } from "./session.ts";
import { isStatelessRequest, STATELESS_REVISION, StatelessClient, type StatelessAnswer } from "./stateless.ts";
import type { WireHelloInfo, WireLink, WireSession } from "../lib/wire/server.ts";
import { randomUUID } from "node:crypto";

/** Quiet time after which the host runs a full garbage collection. */
export const IDLE_GC_MS = 1_000;

export interface HostAppOptions {
  log: ConsolaInstance;
  /** A child's stderr line, with the project it serves (for the target's log). */
  stderr: (project: string | undefined, line: string) => void;
  /** Where the running children's pids are kept for the next host (no orphans after a host crash). */
  record?: ChildRecord;
}

/**
 * The project a session says it works in. Like the memory daemon, only an absolute, canonical directory of this
 * user (lib/trust.ts) is accepted: a child is started there and `{project}` is replaced by it.
 */
export function checkProject(given: string | undefined): string {
  if (!given) throw new Error(`the session did not say which project it is in (no ${PROJECT_HEADER} header)`);
  const problem = projectProblem(given);
  if (problem) throw new Error(`the project folder ${given} ${problem}`);
  return given;
}

export function createHostApp(target: HostedTarget, token: string, options: HostAppOptions) {
  const { log } = options;
  const app = createBaseApp(token);
  const sessions = new SessionTable<HttpHostSession>();
  sessions.start();
  /**
   * Children by what their sessions show the server: the share key (the project folder, "global" or "session:<id>"),
   * then the protocol version and capabilities of the `initialize`, then — once the child has asked — the roots.
   * Sessions that differ in any of these would each have got different answers directly, so they never share.
   */
  const children = new Map<string, SharedChild>();
  let requests = 0;
  /**
   * A child of this target sent requests of its own: new children make their sessions take turns from the start.
   * Kept on disk, so only the very first such request a server ever sends can meet sessions that did not take turns.
   */
  let sendsRequests = existsSync(paths.turns(target.name));

  /**
   * A new session's child among the up to `instances` children for its key (docs/hosted.md "A pool of children"):
   * the one with the fewest sessions, a new one while every running one has a session and the pool has room. The
   * session stays there for its life, so what a server keeps per client stays with it. Instance 1 is kept under
   * the key itself, instance n under `key\n#n`; a new instance starts as the first did (its profile: `initialize`,
   * environment, roots), so every instance hears the same things. A failed instance is the last choice.
   */
  const childFor = (key: string, project: string | undefined, profile: ChildProfile, size = poolSize(target)): SharedChild => {
    const load = (child: SharedChild) => (child.state === "failed" ? Number.POSITIVE_INFINITY : child.clients.size);
    // Instances beyond a lowered `instances` take no new sessions; one with none left goes now (a global child
    // would otherwise never idle out).
    for (const [k, child] of children) {
      if ((child.instance ?? 1) > poolSize(target) && child.clients.size === 0) {
        children.delete(k);
        void child.stop("instances lowered in config.json");
      }
    }
    let best: SharedChild | undefined;
    let free: number | undefined;
    for (let n = 1; n <= size; n++) {
      const child = children.get(instanceKey(key, n));
      if (!child) free ??= n;
      else if (!best || load(child) < load(best)) best = child;
    }
    if (best && (free === undefined || load(best) === 0)) return best;
    const n = free ?? 1;
    const child = newChild(instanceKey(key, n), project, best?.profile ?? profile, n, size);
    // The pool grew past one (`instances` raised live): the first child is numbered too.
    const first = children.get(key);
    if (first && n > 1) first.instance ??= 1;
    return child;
  };

  const newChild = (key: string, project: string | undefined, profile: ChildProfile, instance: number, size: number): SharedChild => {
    let child = children.get(key);
    if (!child) {
      child = new SharedChild(target, project, profile, log, {
        stderr: (line) => options.stderr(project, line),
        idle: (idle) => {
          if (children.get(key) === idle && idle.clients.size === 0) children.delete(key);
        },
        spawned: (pid) => options.record?.add(pid),
        exited: (pid) => options.record?.remove(pid),
        sendsRequests: () => sendsRequests,
        rootsAsked: (child, unasked) => rootsAsked(child, unasked),
        learnedRequests: () => {
          sendsRequests = true;
          try {
            writeFileAtomic(paths.turns(target.name), `${JSON.stringify({ since: new Date().toISOString(), command: [target.command, ...target.args] })}\n`);
          } catch {}
        },
      });
      if (size > 1) child.instance = instance;
      children.set(key, child);
    }
    return child;
  };

  const initialize = async (session: HostSession, message: JsonRpcMessage & { id: JsonRpcId }, projectPath: string | undefined) => {
    const { params, env } = withoutSessionEnv((message.params ?? {}) as Record<string, unknown>);
    try {
      session.project = checkProject(projectPath);
    } catch (error) {
      if (target.share !== "global") return session.send(errorResponse(message.id, UPSTREAM_ERROR, `msm: ${(error as Error).message}`));
    }
    session.capabilities = (params.capabilities ?? {}) as Record<string, unknown>;
    const share = target.share === "global" ? "global" : target.share === "session" ? `session:${session.id}` : session.project;
    const key = `${share}\n${String(params.protocolVersion)}\n${canonicalJson(session.capabilities)}`;
    const project = target.share === "global" ? undefined : session.project;
    // A global child is every project's: it gets the host's base environment, never one session's.
    session.key = key;
    session.profile = { initialize: params, env: target.share === "global" ? undefined : env };
    const child = childFor(key, project, session.profile);
    session.child = child;
    try {
      const result = await child.attach(session);
      if (session.closed) return child.detach(session);
      log.info(
        `session ${session.id} (${session.project || "no project"}) joined the ${target.share === "global" ? "global child" : `child for ${child.project}`} (${child.variant})`,
      );
      session.send({ jsonrpc: "2.0", id: message.id, result });
    } catch (error) {
      session.send(errorResponse(message.id, UPSTREAM_ERROR, `msm: ${(error as Error).message}`));
    }
  };

  /**
   * Asks the session for its roots, as the server asked its child's first session, and moves it to a child of its
   * own when they differ (and it has nothing at this child yet). Its messages wait meanwhile. Returns its child.
   */
  const placeByRoots = async (session: HostSession, child: SharedChild): Promise<SharedChild> => {
    session.waiting ??= [];
    const [roots] = await Promise.all([child.probeRoots(session), child.whenRootsKnown()]);
    let home = child;
    if (!session.closed && roots !== undefined && child.rootsAnswer !== undefined && !child.sameRoots(roots)) {
      if (child.busy(session)) {
        log.warn(`session ${session.id} has other roots than its child's but a call in flight there: it stays`);
      } else {
        child.detach(session);
        home = childFor(`${session.key}\n${canonicalJson(roots)}`, child.project, { ...session.profile!, roots });
        session.child = home;
        try {
          await home.attach(session);
          log.info(`session ${session.id} has other roots than its child's: it gets a child of its own (${home.variant})`);
        } catch (error) {
          log.warn(`session ${session.id}: ${(error as Error).message}`);
        }
      }
    }
    return home;
  };

  const flushWaiting = (session: HostSession, home: SharedChild, first?: JsonRpcMessage) => {
    const waiting = session.waiting ?? [];
    session.waiting = undefined;
    if (first) home.fromClient(session, first);
    for (const m of waiting) if (!session.closed) home.fromClient(session, m);
  };

  /**
   * The session said `initialized`. Its child may already know roots (another session's): this session is asked for
   * its own, as the server asked that session, and goes to a child of its own when they differ.
   */
  const initialized = async (session: HostSession, message: JsonRpcMessage) => {
    session.initialized = true;
    const child = session.child!;
    if (child.rootsAnswer === undefined || session.capabilities.roots === undefined || !session.key) return child.fromClient(session, message);
    child.rootsGiven.add(session);
    session.waiting = [];
    const home = await placeByRoots(session, child);
    if (!session.closed) flushWaiting(session, home, message);
  };

  /** The child asked its first session for roots: the others that declared roots are asked too. */
  const rootsAsked = (child: SharedChild, unasked: Client[]) => {
    for (const client of unasked) {
      const session = client as HostSession;
      if (session.capabilities.roots === undefined || !session.key || session.waiting) continue;
      void placeByRoots(session, child).then((home) => {
        if (!session.closed) flushWaiting(session, home);
      });
    }
  };

  /**
   * One message of a session, whatever its wire. `projectPath` is read once, at the session's initialize (the host
   * starts the session's child in it); its other messages go to its child.
   */
  const receive = (session: HostSession, m: JsonRpcMessage, projectPath: () => string | undefined) => {
    if (m.method === "initialize" && m.id !== undefined && m.id !== null) {
      void initialize(session, m as JsonRpcMessage & { id: JsonRpcId }, projectPath());
      return;
    }
    // While msm asks for roots, the session's other messages wait; its answer to that question goes through.
    if (session.waiting && !(m.method === undefined && m.id !== undefined)) session.waiting.push(m);
    else if (m.method === "notifications/initialized" && session.child && !session.initialized) void initialized(session, m);
    else if (session.child) session.child.fromClient(session, m);
    else if (m.id !== undefined && m.id !== null && m.method) session.send(errorResponse(m.id, UPSTREAM_ERROR, "msm: the session is not initialized yet"));
  };

  const openSession = async (): Promise<HttpHostSession> => {
    const transport = new HostTransport(
      sessionTransportOptions(
        sessions,
        () => session,
        (id) => (session.id = id),
      ),
    );
    const session: HttpHostSession = new HttpHostSession(transport, log, (s) =>
      sessions.delete(s.id, `cut off: more than ${SESSION_QUEUE_BYTES} bytes waiting for a client that stopped reading`),
    );
    transport.onmessage = (message, extra) => {
      receive(session, message as JsonRpcMessage, () =>
        decodeProjectHeader((extra?.requestInfo?.headers as Record<string, string> | undefined)?.[PROJECT_HEADER]),
      );
    };
    transport.onclose = () => {
      if (session.id) sessions.delete(session.id, "transport closed");
    };
    await transport.start();
    return session;
  };

  /** Sessions on the line wire (their connections are theirs; no expiry: a closed connection ends one at once). */
  const wireSessions = new Set<WireHostSession>();

  /**
   * A proxy's connection on the line wire (lib/wire/server.ts): one session, the project its hello named. Requests of
   * the 2026-07-28 revision (an envelope, no initialize) are answered one by one as over HTTP.
   */
  const openWire = (link: WireLink, hello: WireHelloInfo): WireSession => {
    const session = new WireHostSession(link, log);
    session.id = randomUUID();
    wireSessions.add(session);
    const project = () => hello.project;
    return {
      message: (m) => {
        requests++;
        collectWhenIdle();
        if (!session.child && isStatelessRequest(m)) {
          void statelessCall(m, hello.project, undefined).then((answer) => {
            if (answer.text !== undefined) session.sendAnswerText(m.id as JsonRpcId, answer.text);
            else if (answer.message) session.send(answer.message);
          });
          return;
        }
        receive(session, m, project);
      },
      closed: (reason) => {
        wireSessions.delete(session);
        session.close(reason);
      },
    };
  };

  /**
   * A request of the 2026-07-28 revision: no session, its version, client info and capabilities in its `_meta`. It
   * goes to the child of its project that was started for requests like it (the server picks its era from the first
   * message it hears), and its answer is this HTTP request's answer.
   */
  const stateless = async (request: Request): Promise<Response> => {
    let message: JsonRpcMessage;
    try {
      message = (await request.json()) as JsonRpcMessage;
    } catch {
      return Response.json(errorResponse(null, -32700, "Parse error"), { status: 400 });
    }
    if (!message || typeof message !== "object" || typeof message.method !== "string") {
      return Response.json(errorResponse(null, -32600, "Invalid Request: one JSON-RPC request or notification"), { status: 400 });
    }
    const answer = await statelessCall(
      message,
      decodeProjectHeader(request.headers.get(PROJECT_HEADER) ?? undefined),
      request.headers.get("mcp-protocol-version"),
    );
    if (answer.text !== undefined) return new Response(answer.text, { headers: { "content-type": "application/json" } });
    return answer.message ? Response.json(answer.message) : new Response(null, { status: 202 });
  };

  /** One stateless request (or notification) of `projectPath`'s session: its answer (none for a notification). */
  const statelessCall = async (
    message: JsonRpcMessage,
    projectPath: string | undefined,
    headerVersion: string | null | undefined,
  ): Promise<StatelessAnswer> => {
    const id = message.id;
    const { params, env } = withoutSessionEnv((message.params ?? {}) as Record<string, unknown>);
    const meta = (params._meta ?? {}) as Record<string, unknown>;
    const capabilities = (meta["io.modelcontextprotocol/clientCapabilities"] ?? {}) as Record<string, unknown>;
    const version = String(meta["io.modelcontextprotocol/protocolVersion"] ?? headerVersion);
    const client = new StatelessClient(capabilities);
    try {
      client.project = checkProject(projectPath);
    } catch (error) {
      if (target.share !== "global") return { message: errorResponse(id ?? null, UPSTREAM_ERROR, `msm: ${(error as Error).message}`) };
    }
    const share = target.share === "global" ? "global" : client.project;
    const project = target.share === "global" ? undefined : client.project;
    const key = `${share}\nstateless ${version}\n${canonicalJson(capabilities)}`;
    // One child per kind of request: each request is answered on its own, so a pool would only add starts.
    const child = childFor(
      key,
      project,
      {
        initialize: { protocolVersion: version, capabilities },
        env: target.share === "global" ? undefined : env,
        stateless: true,
      },
      1,
    );
    const forwarded = { ...message, params } as JsonRpcMessage;
    try {
      await child.attach(client);
    } catch (error) {
      return { message: errorResponse(id ?? null, UPSTREAM_ERROR, `msm: ${(error as Error).message}`) };
    }
    if (id === undefined || id === null) {
      child.fromClient(client, forwarded);
      child.detach(client);
      return {};
    }
    const answer = await client.answer(() => child.fromClient(client, forwarded));
    child.detach(client);
    // A server that does not speak the revision refuses its discovery; the client falls back to `initialize`, which
    // another child serves. This one would only sit idle: it goes now.
    if (message.method === "server/discover" && client.refused && children.get(key) === child && child.clients.size === 0) {
      children.delete(key);
      void child.stop("it does not speak the stateless revision");
    }
    return answer;
  };

  // Before the session route: a POST without a session that speaks the stateless revision.
  app.post("/mcp", async (c, next) => {
    const version = c.req.header("mcp-protocol-version");
    if (c.req.header("mcp-session-id") || !version || version < STATELESS_REVISION) return next();
    requests++;
    return stateless(c.req.raw);
  });

  app.get("/stats", (c) =>
    c.json({ sessions: sessions.size + wireSessions.size, requests, children: [...children.values()].map((child) => child.status()) } satisfies HostStats),
  );

  /** `msm restart NAME --project DIR` (via the supervisor): restart that project's child, sessions kept. */
  app.post("/restart", async (c) => {
    const wanted = c.req.query("project");
    let project: string | undefined;
    try {
      project = wanted ? realpathSync(wanted) : undefined;
    } catch {
      project = wanted;
    }
    const matching = [...children.values()].filter((child) => !project || child.project === project);
    if (project && matching.length === 0) {
      return c.json(
        { code: "UNKNOWN_TARGET", message: `The "${target.name}" host runs no child for ${wanted}. "msm status" lists the running children.` },
        404,
      );
    }
    await Promise.all(matching.map((child) => child.restart()));
    return c.json({ restarted: matching.map((child) => child.project ?? "global") });
  });

  /**
   * config.json changed only in what a running host can take (the supervisor's config watch): from now on children
   * stop after the new idle time and a start waits the new time. A child already counting down keeps its count.
   */
  app.post(HOST_SETTINGS_PATH, async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as Partial<HostSettings>;
    const idle = body.childIdleMs;
    const wait = body.startTimeoutSeconds;
    const instances = body.instances;
    if (typeof idle !== "number" || idle < 0 || typeof wait !== "number" || !(wait > 0)) {
      return c.json({ code: "USAGE", message: "childIdleMs (≥ 0) and startTimeoutSeconds (> 0) are required" }, 400);
    }
    if (instances !== undefined && instances !== "auto" && !(Number.isInteger(instances) && instances >= 1)) {
      return c.json({ code: "USAGE", message: 'instances is a count (≥ 1) or "auto"' }, 400);
    }
    // The children hold this very object: they read both when they next need them. A new pool size applies to new
    // sessions; instances beyond it keep their sessions and stop when idle.
    target.childIdleMs = idle;
    target.startTimeoutSeconds = wait;
    if ("instances" in body) target.instances = instances;
    options.log.info(`settings changed: children stop after ${idle / 60_000} min without sessions, starts wait ${wait} s, up to ${poolSize(target)} per key`);
    return c.json({ ok: true });
  });

  // A host idles most of its life between bursts of calls: a full collection once traffic pauses hands the heap
  // those bursts grew back to the OS (as the proxy does).
  let gcTimer: Timer | undefined;
  const collectWhenIdle = () => {
    clearTimeout(gcTimer);
    gcTimer = setTimeout(() => Bun.gc(true), IDLE_GC_MS);
    gcTimer.unref?.();
  };

  routeMcp(app, sessions, {
    open: openSession,
    deliver: (session, response, done) => session.watch(response, done),
    seen: () => {
      requests++;
      collectWhenIdle();
    },
  });

  const close = async () => {
    sessions.closeAll("the host is stopping");
    await Promise.all([...children.values()].map((child) => child.stop("the host is stopping")));
  };
  const kill = () => {
    for (const child of children.values()) child.kill();
  };
  return { app, sessions, wireSessions, children, close, kill, openWire };
}

/** How many children sessions that would share one may spread over: `instances`, "auto" the cores; one per session for "session". */
export function poolSize(target: Pick<HostedTarget, "share" | "instances">): number {
  if (target.share === "session") return 1;
  return target.instances === "auto" ? availableParallelism() : (target.instances ?? 1);
}

function instanceKey(key: string, n: number): string {
  return n === 1 ? key : `${key}\n#${n}`;
}

/** The editor's initialize params without the environment its proxy sent along (SESSION_ENV_META), and that environment. */
export function withoutSessionEnv(params: Record<string, unknown>): { params: Record<string, unknown>; env: Record<string, string> | undefined } {
  const meta = params._meta as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== "object" || !(SESSION_ENV_META in meta)) return { params, env: undefined };
  const { [SESSION_ENV_META]: given, ...rest } = meta;
  const env: Record<string, string> = {};
  if (given && typeof given === "object") for (const [k, v] of Object.entries(given)) if (typeof v === "string") env[k] = v;
  const { _meta, ...others } = params;
  return { params: Object.keys(rest).length ? { ...others, _meta: rest } : others, env };
}
