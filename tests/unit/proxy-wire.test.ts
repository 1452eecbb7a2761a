// The proxy's end of the line wire (src/proxy/wire.ts) in-process, against a daemon played by the test on a real Unix
// socket: the hello, answers, and above all what happens to the editor's messages when the daemon goes away — a
// refused connection and a stopping daemon's unread lines are resent (certain), a request the daemon had read when
// it died is answered with an error, never sent twice, never left unanswered.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import type { JsonRpcMessage } from "../../src/lib/jsonrpc/messages.ts";
import type { RawLine } from "../../src/proxy/bridge.ts";
import type { Upstream } from "../../src/proxy/upstream.ts";
import { WireBridge } from "../../src/proxy/wire.ts";
import { Outbox } from "../../src/lib/wire/lines.ts";
import { waitFor } from "../helpers/sandbox.ts";

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };
const TOKEN = "secret-token";

interface Conn {
  socket: Socket<Conn>;
  out: Outbox;
  lines: JsonRpcMessage[];
  hello?: Record<string, unknown>;
  buffer: string;
  closed: boolean;
}

/** A daemon played by the test: welcomes a hello with the right token, records lines, answers with `reply`. */
class FakeDaemon {
  readonly connections: Conn[] = [];
  private listener: UnixSocketListener<Conn> | undefined;

  constructor(
    readonly path: string,
    private readonly reply: (message: JsonRpcMessage, conn: Conn) => object | undefined = answerAll,
  ) {}

  start(): this {
    this.listener = Bun.listen<Conn>({
      unix: this.path,
      socket: {
        open: (socket) => {
          const conn: Conn = { socket, out: new Outbox(socket), lines: [], buffer: "", closed: false };
          socket.data = conn;
          this.connections.push(conn);
        },
        close: (socket) => void (socket.data.closed = true),
        drain: (socket) => socket.data.out.drain(),
        data: (socket, chunk) => {
          const conn = socket.data;
          conn.buffer += chunk.toString();
          for (let nl = conn.buffer.indexOf("\n"); nl >= 0; nl = conn.buffer.indexOf("\n")) {
            const line = conn.buffer.slice(0, nl);
            conn.buffer = conn.buffer.slice(nl + 1);
            const parsed = JSON.parse(line);
            if (!conn.hello) {
              conn.hello = parsed;
              if (parsed.token !== TOKEN) {
                conn.out.line(JSON.stringify({ msm: "refused", message: "missing or wrong token" }));
                socket.end();
              } else conn.out.line(JSON.stringify({ msm: "welcome", v: 1, pid: 1, version: "test" }));
              continue;
            }
            conn.lines.push(parsed);
            const answer = this.reply(parsed, conn);
            if (answer) conn.out.line(JSON.stringify(answer));
          }
        },
      },
    });
    return this;
  }

  /** Gone as a crash leaves it: every connection cut, nothing said. */
  crash(): void {
    for (const c of this.connections) c.socket.terminate();
    this.listener?.stop(true);
  }

  /** Stops as msm's daemons do: a bye saying how many lines of each connection were read, then the end. */
  stop(read: (conn: Conn) => number): void {
    for (const c of this.connections) {
      c.out.line(JSON.stringify({ msm: "bye", read: read(c) }));
      c.socket.end();
    }
    this.listener?.stop(true);
  }
}

function answerAll(message: JsonRpcMessage): object | undefined {
  if (message.id === undefined || message.method === undefined) return undefined;
  if (message.method === "initialize")
    return { jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "fake", version: "1" } } };
  if (message.method === "hold") return undefined;
  return { result: { echo: message.method }, jsonrpc: "2.0", id: message.id };
}

const dirs: string[] = [];
const bridges: WireBridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ graceMs: 0 }).catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(token = TOKEN) {
  const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT ?? "/tmp", "wire-"));
  dirs.push(dir);
  const path = join(dir, "t.sock");
  const written: { message: JsonRpcMessage; raw?: RawLine }[] = [];
  let connects = 0;
  const upstream = (): Upstream => ({
    url: "http://127.0.0.1:1/mcp",
    transport: "streamable-http",
    headers: {},
    wire: { address: { unix: path }, token, project: "/p" },
  });
  const bridge = new WireBridge({
    connect: async () => {
      connects++;
      return upstream();
    },
    write: (message, raw) => written.push({ message, raw }),
    log: quiet,
    recoverTimeoutMs: 5_000,
  });
  bridges.push(bridge);
  const answer = (id: number) => waitFor(() => written.find((w) => w.message.id === id), 5_000, `the answer to ${id}`);
  return { path, bridge, written, answer, connects: () => connects };
}

const init = {
  jsonrpc: "2.0" as const,
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const initialized = { jsonrpc: "2.0" as const, method: "notifications/initialized" };
const request = (id: number, method = "tools/call") => ({ jsonrpc: "2.0" as const, id, method, params: {} });

test("hello with the token and the project, then lines both ways", async () => {
  const { path, bridge, answer } = setup();
  const daemon = new FakeDaemon(path).start();
  bridge.send(init);
  bridge.send(initialized);
  bridge.send(request(2));
  expect((await answer(1)).message.result).toBeDefined();
  expect((await answer(2)).message.result).toEqual({ echo: "tools/call" });
  expect(daemon.connections).toHaveLength(1);
  expect(daemon.connections[0]!.hello).toMatchObject({ msm: "hello", v: 1, token: TOKEN, project: "/p" });
  expect(daemon.connections[0]!.lines.map((m) => m.method)).toEqual(["initialize", "notifications/initialized", "tools/call"]);
  daemon.crash();
}, 20_000);

test("a daemon that refuses the hello (a wrong token) is spoken to over HTTP instead, with HTTP's answers", async () => {
  const { path, bridge, answer } = setup("wrong");
  const daemon = new FakeDaemon(path).start();
  // The HTTP side of this daemon: refuses the token as msm's daemons do.
  let posts = 0;
  const http = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      posts++;
      return Response.json({ error: "missing or wrong bearer token (see $MSM_HOME/token)" }, { status: 401 });
    },
  });
  (bridge as unknown as { options: { connect: () => Promise<Upstream> } }).options.connect = async () => ({
    url: `http://127.0.0.1:${http.port}/mcp`,
    transport: "streamable-http",
    headers: {},
    ownDaemon: true,
    wire: { address: { unix: path }, token: "wrong" },
  });
  bridge.send(init);
  const error = (await answer(1)).message.error as { message: string };
  expect(error.message).toContain("401");
  expect(posts).toBe(1);
  http.stop(true);
  daemon.crash();
}, 20_000);

test("no daemon yet (no socket): the message waits and goes once one listens", async () => {
  const { path, bridge, answer, connects } = setup();
  bridge.send(init);
  await waitFor(() => connects() >= 2, 5_000, "a retry");
  const daemon = new FakeDaemon(path).start();
  expect((await answer(1)).message.result).toBeDefined();
  daemon.crash();
}, 20_000);

test("a daemon that dies holding a request: that one gets an error; the session is replayed on the next daemon", async () => {
  const { path, bridge, answer } = setup();
  const first = new FakeDaemon(path).start();
  bridge.send(init);
  bridge.send(initialized);
  await answer(1);
  bridge.send(request(2, "hold"));
  await waitFor(() => first.connections[0]!.lines.some((m) => m.id === 2), 5_000, "the request at the daemon");
  first.crash();
  const failed = (await answer(2)).message.error as { message: string };
  expect(failed.message).toContain("stopped while handling this request");
  const second = new FakeDaemon(path).start();
  bridge.send(request(3));
  expect((await answer(3)).message.result).toEqual({ echo: "tools/call" });
  // The new daemon heard the editor's own initialize again (under a fresh id) and initialized, then the call.
  const seen = second.connections.at(-1)!.lines;
  expect(seen.map((m) => m.method)).toEqual(["initialize", "notifications/initialized", "tools/call"]);
  expect(seen[0]!.id).not.toBe(1);
  // Request 2 was never sent again.
  expect(second.connections.flatMap((c) => c.lines).some((m) => m.id === 2)).toBe(false);
  second.crash();
}, 20_000);

test("a stopping daemon's bye: what it read is answered with an error, what it never read goes to the next daemon", async () => {
  const { path, bridge, answer, written } = setup();
  const holdCalls = (m: JsonRpcMessage) => (m.method === "tools/call" ? undefined : answerAll(m));
  const first = new FakeDaemon(path, holdCalls).start();
  bridge.send(init);
  bridge.send(initialized);
  await answer(1);
  bridge.send(request(2));
  bridge.send(request(3));
  await waitFor(() => first.connections[0]!.lines.length === 4, 5_000, "both requests at the daemon");
  // It says it read only up to request 2 (initialize, initialized, 2): request 3 never reached it.
  first.stop(() => 3);
  const failed = (await answer(2)).message.error as { message: string };
  expect(failed.message).toContain("stopped while handling this request");
  const second = new FakeDaemon(path).start();
  expect((await answer(3)).message.result).toEqual({ echo: "tools/call" });
  const seen = second.connections.flatMap((c) => c.lines);
  expect(seen.filter((m) => m.id === 3)).toHaveLength(1);
  expect(seen.some((m) => m.id === 2)).toBe(false);
  expect(written.filter((w) => w.message.id === 2 || w.message.id === 3)).toHaveLength(2);
  second.crash();
}, 20_000);

test("a large answer passes as the bytes it came in; a large list answer is parsed (the proxy reads lists)", async () => {
  const { path, bridge, answer } = setup();
  const big = "é".repeat(300_000);
  const daemon = new FakeDaemon(path, (message) => {
    if (message.method === "tools/call") return { result: { content: [{ type: "text", text: big }] }, jsonrpc: "2.0", id: message.id };
    if (message.method === "tools/list") return { result: { tools: [{ name: big, inputSchema: { type: "object" } }] }, jsonrpc: "2.0", id: message.id };
    return answerAll(message);
  }).start();
  bridge.send(init);
  bridge.send(initialized);
  bridge.send(request(2));
  bridge.send(request(3, "tools/list"));
  const call = await answer(2);
  expect(typeof call.raw).toBe("object");
  const bytes = Buffer.concat((call.raw as { parts: Uint8Array[] }).parts);
  expect(JSON.parse(bytes.toString()).result.content[0].text).toBe(big);
  const list = await answer(3);
  expect((list.message.result as { tools: { name: string }[] }).tools[0]!.name).toBe(big);
  daemon.crash();
}, 20_000);

test("closing the session ends the connection: the daemon sees it at once", async () => {
  const { path, bridge, answer } = setup();
  const daemon = new FakeDaemon(path).start();
  bridge.send(init);
  await answer(1);
  const conn = daemon.connections[0]!;
  expect(conn.closed).toBe(false);
  await bridge.close({ graceMs: 0 });
  await waitFor(() => conn.closed, 2_000, "the daemon's end to close");
  daemon.crash();
}, 20_000);
