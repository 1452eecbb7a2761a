// What the host's parts agree on: a session as the router sees it, what the sessions sharing one child have in
// common, and how a hosted target is typed once resolved.
import type { ResolvedTarget } from "../lib/config.ts";
import type { JsonRpcId, JsonRpcMessage } from "../lib/jsonrpc/messages.ts";

export type HostedTarget = Extract<ResolvedTarget, { kind: "hosted" }>;

/** A session at the host, as the router sees it. */
export interface Client {
  readonly id: string;
  readonly project: string;
  /** The capabilities it declared in its `initialize`. */
  readonly capabilities: Record<string, unknown>;
  /** It has sent `notifications/initialized`. */
  readonly initialized: boolean;
  /** Sends a message to the session; `relatedRequestId` puts it on the stream of that request of the session. */
  send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): void;
  /** Sends an answer already written as JSON text (a large one, passed on as the server wrote it). */
  sendAnswerText?(id: JsonRpcId, text: string): void;
  /** Sends an answer already written as JSON, as its bytes in pieces (a large one, as the server wrote it). */
  sendAnswerBytes?(id: JsonRpcId, parts: Uint8Array[]): void;
}

/**
 * What the sessions sharing one child have in common, so the child sees exactly what each of them would have shown
 * it directly: the same `initialize` (protocol version, capabilities, client info) and, for a project or a session,
 * the environment of the session that started it.
 */
export interface ChildProfile {
  /** The initialize params the child is sent (the first session's, msm's own metadata removed). */
  initialize: Record<string, unknown>;
  /** The environment of the session that starts the child; undefined: the host's base set (`share: global`). */
  env?: Record<string, string>;
  /** A `roots/list` answer its first session already gave msm: the child's own first ask is answered with it. */
  roots?: unknown;
  /**
   * The 2026-07-28 revision: no `initialize` and no session — every request carries its version, client info and
   * capabilities, and the server asks nothing of the client (it answers `input_required` instead). The child is
   * started and spoken to request by request.
   */
  stateless?: boolean;
}
