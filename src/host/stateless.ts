import type { JsonRpcId, JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import type { Client } from "./types.ts";

/** The first revision without `initialize` or sessions. */
export const STATELESS_REVISION = "2026-07-28";

/** What a stateless request is answered with: a message, or the server's own text of it; nothing for a notification. */
export interface StatelessAnswer {
  message?: JsonRpcMessage;
  text?: string;
}

/**
 * A message of the revision on the line wire: its envelope names 2026-07-28 or later (over HTTP the proxy says so in
 * `MCP-Protocol-Version` on a POST without a session).
 */
export function isStatelessRequest(message: JsonRpcMessage): boolean {
  if (typeof message.method !== "string") return false;
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const version = meta && typeof meta === "object" ? meta["io.modelcontextprotocol/protocolVersion"] : undefined;
  return typeof version === "string" && version >= STATELESS_REVISION;
}

/** One stateless request's stand-in for a session: what the child answers becomes the request's answer. */
export class StatelessClient implements Client {
  readonly id = "stateless";
  project = "";
  readonly initialized = true;
  private resolve: ((answer: StatelessAnswer) => void) | undefined;

  constructor(readonly capabilities: Record<string, unknown>) {}

  answer(send: () => void): Promise<StatelessAnswer> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      send();
    });
  }

  /** Its answer was an error. */
  refused = false;

  send(message: JsonRpcMessage): void {
    // Only its answer has somewhere to go: the revision has no stream for anything else of a plain request.
    if (message.method !== undefined || !this.resolve) return;
    this.refused = "error" in message;
    this.resolve({ message });
    this.resolve = undefined;
  }

  sendAnswerText(_id: JsonRpcId, text: string): void {
    this.resolve?.({ text });
    this.resolve = undefined;
  }
}
