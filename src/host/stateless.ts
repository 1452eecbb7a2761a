import type { JsonRpcId, JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import type { Client } from "./types.ts";

/** The first revision without `initialize` or sessions. */
export const STATELESS_REVISION = "2026-07-28";

/** One stateless request's stand-in for a session: what the child answers becomes the HTTP answer. */
export class StatelessClient implements Client {
  readonly id = "stateless";
  project = "";
  readonly initialized = true;
  private resolve: ((response: Response) => void) | undefined;

  constructor(readonly capabilities: Record<string, unknown>) {}

  answer(send: () => void): Promise<Response> {
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
    this.resolve(Response.json(message));
    this.resolve = undefined;
  }

  sendAnswerText(_id: JsonRpcId, text: string): void {
    this.resolve?.(new Response(text, { headers: { "content-type": "application/json" } }));
    this.resolve = undefined;
  }
}
