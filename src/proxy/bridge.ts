import type { ConsolaInstance } from "consola";
import { readSse } from "./sse.ts";

type JsonRpcId = string | number | null;
export type JsonRpcMessage = { jsonrpc: "2.0"; id?: JsonRpcId; method?: string; params?: unknown; result?: unknown; error?: unknown };

/** Where the bridge sends messages: an MCP streamable-HTTP endpoint plus the headers every request carries. */
export interface Upstream {
  url: string;
  headers: Record<string, string>;
}

export interface BridgeOptions {
  upstream: Upstream;
  /** Writes one JSON-RPC message as one line to the editor. The only path to stdout. */
  write: (message: JsonRpcMessage) => void;
  log: ConsolaInstance;
  fetch?: typeof fetch;
}

const isRequest = (m: JsonRpcMessage) => typeof m.method === "string" && m.id !== undefined && m.id !== null;

export function errorResponse(id: JsonRpcId, code: number, message: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/**
 * Streamable HTTP client side of the bridge (MCP 2025-03-26 … 2025-11-25). Every editor message is POSTed; answers
 * come back as JSON or as an SSE stream that may carry notifications and server→client requests before the
 * response. Requests run concurrently, so a long tool call never holds up the next one.
 */
export class StreamableBridge {
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  /** Resolves when the initialize answer (and so the session id) is known; later messages wait for it. */
  private initialized: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private getStream: AbortController | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: BridgeOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Forwards one editor message; the returned promise settles when its answer has been written. */
  send(message: JsonRpcMessage): Promise<void> {
    const task = this.forward(message).finally(() => this.pending.delete(task));
    this.pending.add(task);
    return task;
  }

  private async forward(message: JsonRpcMessage): Promise<void> {
    if (message.method === "initialize") {
      this.initialized = this.post(message, true);
      return this.initialized;
    }
    if (this.initialized) await this.initialized.catch(() => {});
    await this.post(message, false);
    if (message.method === "notifications/initialized") this.openGetStream();
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...this.options.upstream.headers, ...extra };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  private async post(message: JsonRpcMessage, isInitialize: boolean): Promise<void> {
    let response: Response;
    try {
      response = await this.fetch(this.options.upstream.url, {
        method: "POST",
        headers: this.headers({ "content-type": "application/json", accept: "application/json, text/event-stream" }),
        body: JSON.stringify(message),
      });
    } catch (error) {
      this.options.log.warn(`cannot reach ${this.options.upstream.url}: ${(error as Error).message}`);
      if (isRequest(message)) this.options.write(errorResponse(message.id!, -32603, `msm: the MCP server is unreachable (${(error as Error).message})`));
      return;
    }
    if (isInitialize) {
      this.sessionId = response.headers.get("mcp-session-id") ?? undefined;
    }
    if (response.status === 202) {
      await response.body?.cancel();
      return;
    }
    const type = response.headers.get("content-type") ?? "";
    if (!response.ok && !type.includes("json") && !type.includes("event-stream")) {
      const text = await response.text().catch(() => "");
      if (isRequest(message)) this.options.write(errorResponse(message.id!, -32603, `msm: the MCP server answered HTTP ${response.status} ${text.slice(0, 200)}`));
      return;
    }
    if (type.includes("text/event-stream") && response.body) {
      for await (const event of readSse(response.body)) {
        if (event.event !== "message" || event.data === "") continue;
        this.deliver(event.data, isInitialize);
      }
      return;
    }
    const text = await response.text();
    if (text.trim() !== "") this.deliver(text, isInitialize);
  }

  /** Writes a server message (or batch) to the editor, noting the negotiated protocol version on the way. */
  private deliver(text: string, isInitialize: boolean): void {
    let parsed: JsonRpcMessage | JsonRpcMessage[];
    try {
      parsed = JSON.parse(text);
    } catch {
      this.options.log.warn(`dropped a malformed message from the server: ${text.slice(0, 200)}`);
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (isInitialize && message.result && typeof message.result === "object" && "protocolVersion" in message.result) {
        this.protocolVersion = String((message.result as { protocolVersion: unknown }).protocolVersion);
      }
      this.options.write(message);
    }
  }

  /** The GET stream carries unsolicited server messages (list_changed, resources/updated). */
  private openGetStream(): void {
    if (!this.sessionId || this.getStream) return;
    const controller = new AbortController();
    this.getStream = controller;
    void (async () => {
      try {
        const response = await this.fetch(this.options.upstream.url, {
          method: "GET",
          headers: this.headers({ accept: "text/event-stream" }),
          signal: controller.signal,
        });
        if (!response.ok || !response.body) {
          await response.body?.cancel();
          return;
        }
        for await (const event of readSse(response.body)) {
          if (event.event === "message" && event.data !== "") this.deliver(event.data, false);
        }
      } catch (error) {
        if (!controller.signal.aborted) this.options.log.debug(`GET stream ended: ${(error as Error).message}`);
      }
    })();
  }

  /** Waits (bounded) for answers still owed to the editor, then ends the HTTP session. */
  async close(graceMs: number): Promise<void> {
    if (this.pending.size) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.getStream?.abort();
    if (this.sessionId) {
      await this.fetch(this.options.upstream.url, { method: "DELETE", headers: this.headers(), signal: AbortSignal.timeout(1000) })
        .then((r) => r.body?.cancel())
        .catch(() => {});
    }
  }
}
