// The proxy's kept-alive connections to msm's own daemons (src/proxy/loopback.ts): reused, streamed, and — what the
// restart-invisible guarantee rests on — a message to a daemon that died is either proven undelivered (resent) or an
// error, never silently lost and never sent twice. Real server processes, real SIGKILL.
import { afterEach, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { readSse } from "../../src/lib/jsonrpc/sse.ts";
import { closeLoopbackConnections, loopbackRequest, NOT_DELIVERED } from "../../src/proxy/loopback.ts";
import { isUnreachable } from "../../src/proxy/upstream.ts";
import { alive } from "../helpers/sandbox.ts";

const FIXTURE = resolve(import.meta.dir, "../fixtures/loopback-server.ts");
const started: Bun.Subprocess[] = [];

async function server(mode: "ok" | "die"): Promise<{ url: string; proc: Bun.Subprocess }> {
  const proc = Bun.spawn([process.execPath, FIXTURE, mode], { stdout: "pipe", stderr: "inherit" });
  started.push(proc);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the fixture server exited before it listened");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { url: `http://127.0.0.1:${Number(text.trim())}`, proc };
}

const post = (url: string, body: string, headers: Record<string, string> = {}) => loopbackRequest(url, { method: "POST", headers, body });

afterEach(() => {
  closeLoopbackConnections();
  for (const proc of started.splice(0)) proc.kill("SIGKILL");
});

describe("loopback connections", () => {
  test("sequential POSTs share one kept-alive connection; status, headers and body arrive as fetch gives them", async () => {
    const { url } = await server("ok");
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const response = await post(`${url}/mcp`, `hello ${i} €`, { "x-test": "yes" });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      const answer = (await response.json()) as { port: number; body: string; host: string; x: string };
      expect(answer.body).toBe(`hello ${i} €`);
      expect(answer.host).toBe(new URL(url).host);
      expect(answer.x).toBe("yes");
      ports.add(answer.port);
    }
    expect(ports.size).toBe(1);
    const accepted = await post(`${url}/mcp`, "accept");
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe("");
  }, 20_000);

  test("concurrent POSTs each get a connection; an event stream is handed over as it comes, then the connection is reused", async () => {
    const { url } = await server("ok");
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => post(`${url}/mcp`, `c${i}`).then((r) => r.json() as Promise<{ port: number; body: string }>)),
    );
    expect(answers.map((a) => a.body)).toEqual(["c0", "c1", "c2", "c3"]);
    expect(new Set(answers.map((a) => a.port)).size).toBe(4);
    const stream = await post(`${url}/sse`, "");
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const events: string[] = [];
    for await (const event of readSse(stream.body!)) events.push(event.data);
    expect(events).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    const after = (await (await post(`${url}/mcp`, "after")).json()) as { port: number };
    expect(answers.map((a) => a.port)).toContain(after.port);
  }, 20_000);

  test("an HTTP/1.0 answer without keep-alive closes its connection: the next message takes a new one", async () => {
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          const port = socket.remotePort;
          socket.write(
            `HTTP/1.0 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${JSON.stringify({ port }).length}\r\n\r\n${JSON.stringify({ port })}`,
          );
          socket.end();
        },
      },
    });
    try {
      const url = `http://127.0.0.1:${server.port}/mcp`;
      const first = (await (await post(url, "a")).json()) as { port: number };
      const second = (await (await post(url, "b")).json()) as { port: number };
      expect(second.port).not.toBe(first.port);
    } finally {
      server.stop(true);
    }
  }, 20_000);

  test("a daemon SIGKILLed while its connection is idle: the next message is resent-safe (refused or proven undelivered)", async () => {
    const { url, proc } = await server("ok");
    await (await post(`${url}/mcp`, "first")).text();
    proc.kill("SIGKILL");
    await proc.exited;
    const error = await post(`${url}/mcp`, "second").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    expect(isUnreachable(error)).toBe(true);
  }, 20_000);

  test("a daemon that died before the message was written, its close not yet seen: proven undelivered by the reset", async () => {
    const { url, proc } = await server("ok");
    await (await post(`${url}/mcp`, "first")).text();
    proc.kill("SIGKILL");
    // Block the event loop until the daemon is gone and its close has reached this socket unseen: the kept
    // connection is still in the pool when the message goes.
    const deadline = Date.now() + 10_000;
    while (alive(proc.pid) && Date.now() < deadline) Bun.sleepSync(2);
    Bun.sleepSync(50);
    const error = await post(`${url}/mcp`, "second").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { code?: string } | undefined)?.code).toBe(NOT_DELIVERED);
    expect(isUnreachable(error)).toBe(true);
  }, 20_000);

  test("a daemon that read the message and then died: an error that is not resent (the request may have run)", async () => {
    const { url } = await server("die");
    const error = await post(`${url}/mcp`, "fatal").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    expect(isUnreachable(error)).toBe(false);
  }, 20_000);

  test("nothing listening: refused, which is resent-safe", async () => {
    const { url, proc } = await server("ok");
    proc.kill("SIGKILL");
    await proc.exited;
    const error = await post(`${url}/mcp`, "x").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUnreachable(error)).toBe(true);
  }, 20_000);
});
