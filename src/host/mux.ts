import type { JsonRpcId, JsonRpcMessage } from "../lib/jsonrpc/messages.ts";

/**
 * The bookkeeping that lets many sessions share one child: request ids, progress tokens and server→client request
 * ids rewritten so they never collide at the child, and restored — with their original JSON type — on the way back.
 * Pure data; the router decides what to send where.
 */

type Token = string | number;

/** A request the child is answering. `session` undefined = msm's own (initialize, tools/list, subscribe). */
export interface InFlight<S> {
  session: S | undefined;
  /** The id the session used (restored on the answer). */
  id: JsonRpcId;
  method: string;
  /** The session's own progress token, when it asked for progress. */
  token?: Token;
  /** msm's own requests: who is waiting for the answer. */
  resolve?: (answer: JsonRpcMessage) => void;
}

export class Mux<S> {
  private nextId = 1;
  private nextToken = 1;
  private nextOutgoing = 1;
  /** Requests at the child, by the id the child saw; insertion order = the order they were sent. */
  private readonly inFlight = new Map<number, InFlight<S>>();
  /** Progress tokens the child saw → the child id of the request they belong to. */
  private readonly tokens = new Map<Token, number>();
  /** Server→client requests handed to a session, by the id the session saw → the child's own id. */
  private readonly outgoing = new Map<number, { session: S; childId: JsonRpcId; method: string }>();

  /** A session's request rewritten for the child: a fresh id, and a fresh progress token if it asked for progress. */
  request(session: S | undefined, message: JsonRpcMessage & { id: JsonRpcId; method: string }, resolve?: (answer: JsonRpcMessage) => void): JsonRpcMessage {
    const childId = this.nextId++;
    const entry: InFlight<S> = { session, id: message.id, method: message.method, resolve };
    let params = message.params;
    const meta = (params as { _meta?: { progressToken?: unknown } } | undefined)?._meta;
    if (meta && (typeof meta.progressToken === "string" || typeof meta.progressToken === "number")) {
      entry.token = meta.progressToken;
      const childToken = this.nextToken++;
      this.tokens.set(childToken, childId);
      params = { ...(params as object), _meta: { ...meta, progressToken: childToken } };
    }
    this.inFlight.set(childId, entry);
    return { ...message, id: childId, ...(params !== undefined ? { params } : {}) };
  }

  /** The child answered: whose request it was, with the session's own id put back. undefined = unknown id. */
  response(message: JsonRpcMessage): { entry: InFlight<S>; message: JsonRpcMessage } | undefined {
    if (typeof message.id !== "number") return undefined;
    const entry = this.inFlight.get(message.id);
    if (!entry) return undefined;
    this.release(message.id, entry);
    return { entry, message: { ...message, id: entry.id } };
  }

  private release(childId: number, entry: InFlight<S>): void {
    this.inFlight.delete(childId);
    if (entry.token === undefined) return;
    for (const [token, owner] of this.tokens) {
      if (owner === childId) {
        this.tokens.delete(token);
        break;
      }
    }
  }

  /**
   * A progress notification from the child, for its owner only. undefined when no session owns the token: it is
   * dropped, never broadcast (Claude Code drops the whole connection on a progress token it does not know).
   */
  progress(message: JsonRpcMessage): { session: S; requestId: JsonRpcId; message: JsonRpcMessage } | undefined {
    const params = message.params as { progressToken?: unknown } | undefined;
    const childId = this.tokens.get(params?.progressToken as Token);
    const entry = childId === undefined ? undefined : this.inFlight.get(childId);
    if (!entry || entry.session === undefined || entry.token === undefined) return undefined;
    return { session: entry.session, requestId: entry.id, message: { ...message, params: { ...params, progressToken: entry.token } } };
  }

  /** `notifications/cancelled` from a session: the id the child knows its request by. */
  cancelled(session: S, requestId: unknown): number | undefined {
    for (const [childId, entry] of this.inFlight) {
      if (entry.session === session && entry.id === requestId) return childId;
    }
    return undefined;
  }

  /** The sessions with a request at the child right now (msm's own requests not counted). */
  sessionsInFlight(): Set<S> {
    const sessions = new Set<S>();
    for (const entry of this.inFlight.values()) if (entry.session !== undefined) sessions.add(entry.session);
    return sessions;
  }

  /** The session's most recent request at the child: the stream a server→client request for it goes out on. */
  latestOf(session: S): JsonRpcId | undefined {
    let found: JsonRpcId | undefined;
    for (const entry of this.inFlight.values()) if (entry.session === session) found = entry.id;
    return found;
  }

  /** A server→client request handed to `session`: the id it will see (the child's id is kept for the answer). */
  outgoingRequest(session: S, message: JsonRpcMessage & { id: JsonRpcId; method: string }): JsonRpcMessage {
    const id = this.nextOutgoing++;
    this.outgoing.set(id, { session, childId: message.id, method: message.method });
    return { ...message, id };
  }

  /** A session answered a server→client request: the answer with the child's id back, and what was asked. */
  outgoingAnswer(session: S, message: JsonRpcMessage): { message: JsonRpcMessage; method: string } | undefined {
    if (typeof message.id !== "number") return undefined;
    const entry = this.outgoing.get(message.id);
    if (!entry || entry.session !== session) return undefined;
    this.outgoing.delete(message.id);
    return { message: { ...message, id: entry.childId }, method: entry.method };
  }

  /** The child cancelled one of its requests: which session has it, under which id. */
  outgoingCancelled(childId: unknown): { session: S; id: number } | undefined {
    for (const [id, entry] of this.outgoing) if (entry.childId === childId) return { session: entry.session, id };
    return undefined;
  }

  /** A session left: its requests at the child (to cancel there) and the child's requests it will never answer. */
  dropSession(session: S): { cancel: number[]; unanswered: { childId: JsonRpcId; method: string }[] } {
    const cancel: number[] = [];
    for (const [childId, entry] of this.inFlight) {
      if (entry.session !== session) continue;
      this.release(childId, entry);
      cancel.push(childId);
    }
    const unanswered: { childId: JsonRpcId; method: string }[] = [];
    for (const [id, entry] of this.outgoing) {
      if (entry.session !== session) continue;
      this.outgoing.delete(id);
      unanswered.push({ childId: entry.childId, method: entry.method });
    }
    return { cancel, unanswered };
  }

  /** The child died: every request it held, so each can be answered with an error. Tokens and ids start over. */
  failAll(): InFlight<S>[] {
    const all = [...this.inFlight.values()];
    this.inFlight.clear();
    this.tokens.clear();
    this.outgoing.clear();
    return all;
  }

  /** Requests in flight (msm's own included). */
  get size(): number {
    return this.inFlight.size;
  }

  /** Does this session have a request at the child? */
  busy(session: S): boolean {
    for (const entry of this.inFlight.values()) if (entry.session === session) return true;
    return false;
  }
}

/** Resource subscriptions, reference-counted: the child hears subscribe for the first session and unsubscribe after the last. */
export class Subscriptions<S> {
  private readonly byUri = new Map<string, Set<S>>();

  /** true when this is the URI's first subscriber (the child must be told). */
  add(session: S, uri: string): boolean {
    let set = this.byUri.get(uri);
    const first = !set || set.size === 0;
    if (!set) this.byUri.set(uri, (set = new Set()));
    set.add(session);
    return first;
  }

  /** true when the URI has no subscriber left (the child must be told). false if the session was not subscribed. */
  remove(session: S, uri: string): boolean {
    const set = this.byUri.get(uri);
    if (!set?.delete(session)) return false;
    if (set.size > 0) return false;
    this.byUri.delete(uri);
    return true;
  }

  subscribers(uri: string): S[] {
    return [...(this.byUri.get(uri) ?? [])];
  }

  /** Drops every subscription of a leaving session; returns the URIs nobody is subscribed to any more. */
  dropSession(session: S): string[] {
    const gone: string[] = [];
    for (const uri of [...this.byUri.keys()]) if (this.remove(session, uri)) gone.push(uri);
    return gone;
  }

  /** Every URI somebody is subscribed to (re-subscribed after a child restart). */
  uris(): string[] {
    return [...this.byUri.keys()];
  }
}
