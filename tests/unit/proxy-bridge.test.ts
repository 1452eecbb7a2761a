// The bridge in-process against a real SDK streamable-HTTP server on a loopback port, with the editor played by the
// test: everything that must cross, and the restarts that must not show.
import { afterEach, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { ListRootsResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { primeEventStream } from "../../src/lib/http/serve.ts";
import { StreamableBridge } from "../../src/proxy/streamable.ts";
import type { JsonRpcMessage } from "../../src/lib/jsonrpc/messages.ts";
import type { Upstream } from "../../src/proxy/upstream.ts";

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };

interface Seen {
  method: string;
  headers: Headers;
  body: JsonRpcMessage | undefined;
}

/** An SDK server with a few tools, one transport per session, 404 for unknown sessions (as msm's daemon does). */
class TestServer {
  readonly sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: McpServer }>();
  readonly seen: Seen[] = [];
  readonly clientCapabilities: unknown[] = [];
  private http: ReturnType<typeof Bun.serve> | undefined;
  port = 0;
  /** Resolves the "slow" tool's wait. */
  release: () => void = () => {};

  start(port = 0): this {
    this.http = Bun.serve({ port, hostname: "127.0.0.1", idleTimeout: 0, fetch: async (request) => primeEventStream(await this.handle(request)) });
    this.port = this.http.port!;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  /** Gone: connection refused from now on. */
  stop(): void {
    this.http?.stop(true);
    this.sessions.clear();
  }

  /** Forgets every session, as a restarted daemon would: old session ids now get 404. */
  forgetSessions(): void {
    for (const s of this.sessions.values()) void s.server.close();
    this.sessions.clear();
  }

  private newServer(): McpServer {
    const server = new McpServer({ name: "test", version: "1" }, { capabilities: { logging: {} } });
    server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: "text", text }] }));
    server.registerTool("slow", {}, async () => {
      await new Promise<void>((resolve) => (this.release = resolve));
      return { content: [{ type: "text", text: "slow done" }] };
    });
    server.registerTool("ask-roots", {}, async (extra) => {
      const roots = await extra.sendRequest({ method: "roots/list" }, ListRootsResultSchema);
      return { content: [{ type: "text", text: JSON.stringify(roots.roots) }] };
    });
    server.server.oninitialized = () => this.clientCapabilities.push(server.server.getClientCapabilities());
    return server;
  }

  private async handle(request: Request): Promise<Response> {
    const body = request.method === "POST" ? ((await request.clone().json()) as JsonRpcMessage) : undefined;
    this.seen.push({ method: request.method, headers: request.headers, body });
    const id = request.headers.get("mcp-session-id");
    if (id) {
      const session = this.sessions.get(id);
      if (!session) return Response.json({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }, { status: 404 });
      return session.transport.handleRequest(request);
    }
    const server = this.newServer();
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void this.sessions.set(sid, { transport, server }),
    });
    await server.connect(transport);
    return transport.handleRequest(request);
  }

  /** The live sessions' servers (to send unsolicited messages from). */
  servers(): McpServer[] {
    return [...this.sessions.values()].map((s) => s.server);
  }
}

/** The editor side: collects what the bridge writes, answers server→client requests through `reply`. */
function editor() {
  const written: JsonRpcMessage[] = [];
  let reply: ((m: JsonRpcMessage) => JsonRpcMessage | undefined) | undefined;
  let bridge: StreamableBridge | undefined;
  const write = (m: JsonRpcMessage) => {
    written.push(m);
    if (m.method && m.id !== undefined && reply) {
      const answer = reply(m);
      if (answer) queueMicrotask(() => bridge!.send(answer));
    }
  };
  return {
    written,
    write,
    attach: (b: StreamableBridge) => (bridge = b),
    onRequest: (fn: (m: JsonRpcMessage) => JsonRpcMessage | undefined) => (reply = fn),
    answer: async (id: unknown, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = written.find((m) => m.id === id && m.method === undefined);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no answer to ${JSON.stringify(id)}; got ${JSON.stringify(written)}`);
        await Bun.sleep(5);
      }
    },
  };
}

const INIT: JsonRpcMessage = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: { roots: { listChanged: true }, sampling: {}, experimental: { editorOnly: { x: 1 } } },
    clientInfo: { name: "ed", version: "1" },
  },
};
const INITIALIZED: JsonRpcMessage = { jsonrpc: "2.0", method: "notifications/initialized" };
const call = (id: number, name: string, args: object = {}): JsonRpcMessage => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });

const servers: TestServer[] = [];
const bridges: StreamableBridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ graceMs: 0, deleteTimeoutMs: 200 });
  for (const s of servers.splice(0)) s.stop();
});

/** Polls until `check` holds (a condition, never a fixed sleep, decides when a test moves on). */
async function until(check: () => unknown, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const sawRequest = (server: TestServer, id: number) => server.seen.some((s) => s.body?.id === id && s.body?.method !== undefined);

function setup(options: { recoverTimeoutMs?: number; beforeConnect?: () => void } = {}) {
  const server = new TestServer().start();
  servers.push(server);
  const ed = editor();
  let connects = 0;
  const connect = async (): Promise<Upstream> => {
    connects++;
    options.beforeConnect?.();
    return { url: server.url, transport: "streamable-http", headers: { "mcp-project-path": "/p" } };
  };
  const bridge = new StreamableBridge({ connect, write: ed.write, log: quiet, recoverTimeoutMs: options.recoverTimeoutMs });
  ed.attach(bridge);
  bridges.push(bridge);
  return { server, ed, bridge, connects: () => connects };
}

async function handshake(bridge: StreamableBridge, ed: ReturnType<typeof editor>) {
  bridge.send(INIT);
  bridge.send(INITIALIZED);
  await ed.answer(0);
}

describe("StreamableBridge", () => {
  test("initialize passes unchanged; session id and MCP-Protocol-Version ride on every later request", async () => {
    const { server, ed, bridge } = setup();
    await handshake(bridge, ed);
    bridge.send(call(1, "echo", { text: "hi" }));
    expect(((await ed.answer(1)).result as { content: { text: string }[] }).content[0]!.text).toBe("hi");
    expect(server.clientCapabilities[0]).toEqual((INIT.params as { capabilities: unknown }).capabilities);
    const init = server.seen.find((s) => s.body?.method === "initialize")!;
    expect(init.body).toEqual(INIT);
    expect(init.headers.get("mcp-session-id")).toBeNull();
    const later = server.seen.filter((s) => s.body?.method === "tools/call" || s.method === "GET");
    expect(later.length).toBe(2);
    for (const s of later) {
      expect(s.headers.get("mcp-session-id")).toBe([...server.sessions.keys()][0]!);
      expect(s.headers.get("mcp-protocol-version")).toBe("2025-06-18");
      expect(s.headers.get("mcp-project-path")).toBe("/p");
    }
  });

  test("the GET stream opens before notifications/initialized is forwarded", async () => {
    const { server, ed, bridge } = setup();
    await handshake(bridge, ed);
    await until(() => server.seen.some((s) => s.body?.method === "notifications/initialized"), "notifications/initialized");
    const order = server.seen.map((s) => s.body?.method ?? s.method);
    expect(order.indexOf("GET")).toBeGreaterThan(-1);
    expect(order.indexOf("GET")).toBeLessThan(order.indexOf("notifications/initialized"));
  });

  test("server→client request on a POST stream reaches the editor and its answer goes back", async () => {
    const { ed, bridge } = setup();
    ed.onRequest((m) => (m.method === "roots/list" ? { jsonrpc: "2.0", id: m.id!, result: { roots: [{ uri: "file:///r" }] } } : undefined));
    await handshake(bridge, ed);
    bridge.send(call(1, "ask-roots"));
    const answer = await ed.answer(1);
    expect(JSON.stringify(answer.result)).toContain("file:///r");
    expect(ed.written.some((m) => m.method === "roots/list")).toBe(true);
  });

  test("unsolicited server request and notification arrive on the GET stream; the answer goes back", async () => {
    const { server, ed, bridge } = setup();
    ed.onRequest((m) => (m.method === "roots/list" ? { jsonrpc: "2.0", id: m.id!, result: { roots: [{ uri: "file:///unprompted" }] } } : undefined));
    await handshake(bridge, ed);
    // The bridge forwards notifications/initialized only once its GET stream is open: before that, a message the
    // server sends on its own has no stream to go to (the SDK drops it), and listRoots() would wait forever.
    await until(() => server.seen.some((s) => s.body?.method === "notifications/initialized"), "the GET stream to open");
    const mcp = server.servers()[0]!;
    await mcp.sendToolListChanged();
    const roots = await mcp.server.listRoots();
    expect(roots.roots[0]!.uri).toBe("file:///unprompted");
    expect(ed.written.some((m) => m.method === "notifications/tools/list_changed")).toBe(true);
  });

  test("notifications/cancelled is forwarded and the cancelled request is no longer waited for", async () => {
    const { server, ed, bridge } = setup();
    await handshake(bridge, ed);
    bridge.send(call(5, "slow"));
    await until(() => sawRequest(server, 5), "the slow call to reach the server");
    bridge.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 5, reason: "user" } });
    await until(() => server.seen.some((s) => s.body?.method === "notifications/cancelled"), "the cancellation to reach the server");
    // close() with a long grace returns at once: nothing is owed any more.
    const started = Date.now();
    await bridge.close({ graceMs: 10_000, deleteTimeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(5_000);
    server.release();
  });

  test("a 404 for the session: initialize is replayed (answer swallowed) and the request resent", async () => {
    const { server, ed, bridge } = setup();
    await handshake(bridge, ed);
    const before = [...server.sessions.keys()][0];
    server.forgetSessions();
    bridge.send(call(1, "echo", { text: "after 404" }));
    expect(((await ed.answer(1)).result as { content: { text: string }[] }).content[0]!.text).toBe("after 404");
    const inits = server.seen.filter((s) => s.body?.method === "initialize");
    expect(inits.length).toBe(2);
    // The replay is the editor's own initialize under a fresh id: capabilities and client info unchanged.
    expect({ ...inits[1]!.body, id: 0 } as JsonRpcMessage).toEqual(INIT);
    expect(inits[1]!.body!.id).not.toBe(0);
    expect(server.seen.filter((s) => s.body?.method === "notifications/initialized").length).toBe(2);
    expect([...server.sessions.keys()][0]).not.toBe(before);
    // The editor saw exactly one initialize answer and no trace of the replay.
    expect(ed.written.filter((m) => (m.result as { protocolVersion?: string } | undefined)?.protocolVersion).length).toBe(1);
    expect(ed.written.every((m) => !String(m.id).startsWith("msm-"))).toBe(true);
  });

  test("connection refused: connect() again (daemon ensured), replay, resend", async () => {
    let down = false;
    // connect() is where the proxy ensures the daemon: here that brings the stopped server back on its port.
    const { server, ed, bridge, connects } = setup({
      beforeConnect: () => {
        if (down) server.start(server.port);
        down = false;
      },
    });
    await handshake(bridge, ed);
    server.stop();
    down = true;
    bridge.send(call(2, "echo", { text: "back" }));
    expect(((await ed.answer(2)).result as { content: { text: string }[] }).content[0]!.text).toBe("back");
    expect(connects()).toBeGreaterThanOrEqual(2);
    expect(server.clientCapabilities.at(-1)).toEqual((INIT.params as { capabilities: unknown }).capabilities);
  });

  test("a request in flight when the server dies gets a JSON-RPC error saying so", async () => {
    const { server, ed, bridge } = setup({ recoverTimeoutMs: 500 });
    await handshake(bridge, ed);
    bridge.send(call(3, "slow"));
    await until(() => sawRequest(server, 3), "the slow call to reach the server");
    server.stop();
    const answer = await ed.answer(3);
    expect((answer.error as { code: number; message: string }).message).toMatch(/stopped while handling this request/);
  });

  test("when the server stays away the editor gets an error, not silence", async () => {
    const { server, ed, bridge } = setup({ recoverTimeoutMs: 300 });
    await handshake(bridge, ed);
    server.stop();
    bridge.send(call(4, "echo", { text: "x" }));
    const answer = await ed.answer(4, 15_000);
    expect((answer.error as { message: string }).message).toMatch(/unreachable|cannot reach/);
  });

  test("close() DELETEs the session", async () => {
    const { server, ed, bridge } = setup();
    await handshake(bridge, ed);
    await bridge.close({ graceMs: 1000 });
    expect(server.seen.some((s) => s.method === "DELETE")).toBe(true);
  });
});

describe("GET stream resumption", () => {
  test("a dropped GET stream is re-opened with Last-Event-ID when the server numbers its events", async () => {
    const gets: Headers[] = [];
    const written: JsonRpcMessage[] = [];
    const encoder = new TextEncoder();
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      if (init.method === "GET") {
        gets.push(headers);
        if (gets.length === 1) {
          // One numbered event, then the stream ends (a server or load balancer closing it).
          const body = `id: evt-5\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/resources/list_changed" })}\n\n`;
          return new Response(encoder.encode(body), { headers: { "content-type": "text/event-stream" } });
        }
        // The second stream stays open until the bridge closes it.
        return new Response(new ReadableStream({ start() {} }), { headers: { "content-type": "text/event-stream" } });
      }
      if (init.method === "DELETE") return new Response(null, { status: 200 });
      const body = JSON.parse(String(init.body)) as JsonRpcMessage;
      if (body.method === "initialize") {
        return Response.json(
          { jsonrpc: "2.0", id: body.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "f", version: "1" } } },
          { headers: { "mcp-session-id": "s-1" } },
        );
      }
      return new Response(null, { status: 202 });
    }) as unknown as typeof fetch;
    const bridge = new StreamableBridge({
      connect: async () => ({ url: "http://fake.invalid/mcp", transport: "streamable-http", headers: {} }),
      write: (m) => written.push(m),
      log: quiet,
      fetch: fakeFetch,
    });
    bridges.push(bridge);
    bridge.send(INIT);
    bridge.send(INITIALIZED);
    const deadline = Date.now() + 5_000;
    while (gets.length < 2 && Date.now() < deadline) await Bun.sleep(10);
    expect(gets.length).toBe(2);
    expect(gets[0]!.get("last-event-id")).toBeNull();
    expect(gets[1]!.get("last-event-id")).toBe("evt-5");
    expect(gets[1]!.get("mcp-session-id")).toBe("s-1");
    expect(gets[1]!.get("mcp-protocol-version")).toBe("2025-11-25");
    expect(written.some((m) => m.method === "notifications/resources/list_changed")).toBe(true);
  });
});
