// What an editor (or a script) can throw at a proxy's stdin — huge lines, bad bytes, deep nesting, a request
// followed at once by EOF — and what it must get back: one answer per request, saying what happened.
import { describe, expect, test } from "bun:test";
import { MSM, Sandbox, call, openSession, requireBinary } from "../helpers/sandbox.ts";

/** Spawning binaries and daemons takes seconds on a busy 2-core machine; no timing is asserted. */
const SLOW = 90_000;

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };
const line = (m: object) => JSON.stringify(m) + "\n";

/**
 * A minimal MCP server on plain HTTP (transport "http": one POST, one JSON answer) in this test process:
 * `echo` answers with the exact body it received, `slow` answers after `ms`.
 */
function startServer() {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    maxRequestBodySize: 1 << 30,
    async fetch(request) {
      if (request.method !== "POST") return new Response(null, { status: 405 });
      const body = await request.text();
      const message = JSON.parse(body);
      if (message.id === undefined) return new Response(null, { status: 202 });
      if (message.method === "initialize")
        return Response.json({
          jsonrpc: "2.0",
          id: message.id,
          result: { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "t", version: "1" } },
        });
      if (message.method === "slow") await Bun.sleep(message.params.ms);
      return Response.json({ jsonrpc: "2.0", id: message.id, result: { bytes: Buffer.byteLength(body), head: body.slice(0, 40) } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, stop: () => server.stop(true) };
}

/** `msm proxy` as an editor spawns it; `feed` writes stdin (strings or bytes) and closes it; resolves with every stdout line. */
async function runProxy(
  sandbox: Sandbox,
  args: string[],
  feed: (write: (data: string | Uint8Array) => Promise<void>) => Promise<void>,
  env: Record<string, string> = {},
  cwd?: string,
) {
  requireBinary();
  const proxy = Bun.spawn([MSM, "proxy", ...args], { env: { ...sandbox.env, ...env }, cwd, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  sandbox.track(proxy.pid);
  const stdout = new Response(proxy.stdout).text();
  const stderr = new Response(proxy.stderr).text();
  await feed(async (data) => {
    proxy.stdin.write(data);
    await proxy.stdin.flush();
  });
  proxy.stdin.end();
  const code = await proxy.exited;
  const lines = (await stdout).split("\n").filter((l) => l !== "");
  return { code, stderr: await stderr, messages: lines.map((l) => JSON.parse(l) as Answer) };
}

interface Answer {
  id?: unknown;
  result?: any;
  error?: { code: number; message: string };
}
const byId = (messages: Answer[], id: unknown) => messages.filter((m) => m.id === id);

describe("proxy input bounds (issue 9, item 8)", () => {
  test(
    "over 64 MiB: discarded and answered -32600 with its id; 16 MiB passes; bad UTF-8 is -32700; deep nesting is forwarded",
    async () => {
      await using sandbox = new Sandbox();
      const server = startServer();
      try {
        const chunk = "x".repeat(1024 * 1024);
        const sixteen = line({ jsonrpc: "2.0", id: 6, method: "echo", params: { a: "y".repeat(16 * 1024 * 1024) } });
        const { code, messages, stderr } = await runProxy(sandbox, ["--url", server.url, "--transport", "http"], async (write) => {
          await write(line(INIT) + line(INITIALIZED));
          // 70 MiB, written in pieces as an editor's pipe delivers it; the SDK puts the id last.
          await write('{"method":"tools/call","params":{"name":"x","arguments":{"a":"');
          for (let i = 0; i < 70; i++) await write(chunk);
          await write('"}},"jsonrpc":"2.0","id":5}\n');
          await write(sixteen);
          const enc = new TextEncoder();
          await write(new Uint8Array([...enc.encode('{"jsonrpc":"2.0","id":7,"method":"echo","params":{"a":"'), 0xff, 0xfe, ...enc.encode('"}}\n')]));
          // JSON.parse takes 200,000 levels; JSON.stringify cannot write them back ("Maximum call stack size exceeded").
          const depth = 200_000;
          await write('{"jsonrpc":"2.0","id":8,"method":"echo","params":{"a":' + "[".repeat(depth) + "]".repeat(depth) + "}}\n");
          await write(line({ jsonrpc: "2.0", id: 9, method: "echo", params: {} }));
        });
        expect(code).toBe(0);
        for (const id of [5, 6, 7, 8, 9]) expect(byId(messages, id).length).toBe(1);
        const [tooLarge] = byId(messages, 5);
        expect(tooLarge!.error!.code).toBe(-32600);
        expect(tooLarge!.error!.message).toContain("message too large");
        expect(byId(messages, 6)[0]!.result.bytes).toBe(Buffer.byteLength(sixteen) - 1);
        expect(byId(messages, 7)[0]!.error).toEqual({ code: -32700, message: "Parse error: the message is not valid UTF-8" });
        const deep = byId(messages, 8)[0]!;
        expect(deep.error).toBeUndefined();
        expect(deep.result.bytes).toBeGreaterThan(400_000);
        expect(stderr).not.toContain("Maximum call stack");
        expect(stderr).toContain("message too large");
      } finally {
        server.stop();
      }
    },
    SLOW,
  );
});

describe("stdin closing never swallows an answer (issue 9, item 12)", () => {
  test(
    "open_nodes of ~5 MiB, sent right before stdin closes, arrives whole",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      const setup = await openSession(sandbox, project);
      const observations = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(1024 * 1024));
      // One observation per call: the SDK's stdio client itself refuses answers over 10 MiB.
      await call(setup.client, "create_entities", { entities: [{ name: "big", entityType: "blob", observations: [] }] });
      for (const contents of observations) await call(setup.client, "add_observations", { observations: [{ entityName: "big", contents: [contents] }] });
      await setup.close();
      const { code, messages } = await runProxy(
        sandbox,
        ["--target", "memory"],
        (write) =>
          write(
            line(INIT) +
              line(INITIALIZED) +
              line({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "open_nodes", arguments: { names: ["big"] } } }),
          ),
        {},
        project,
      );
      expect(code).toBe(0);
      const [answer] = byId(messages, 3);
      expect(answer?.error).toBeUndefined();
      expect(answer!.result.structuredContent.entities[0].observations).toEqual(observations);
    },
    SLOW,
  );

  test(
    "an answer that takes seconds still comes; past the grace, what is owed gets an error",
    async () => {
      await using sandbox = new Sandbox();
      const server = startServer();
      try {
        const slow = (id: number, ms: number) => line({ jsonrpc: "2.0", id, method: "slow", params: { ms } });
        const args = ["--url", server.url, "--transport", "http"];
        const waited = await runProxy(sandbox, args, (write) => write(line(INIT) + line(INITIALIZED) + slow(2, 6_000)));
        expect(waited.code).toBe(0);
        expect(byId(waited.messages, 2)[0]!.result.bytes).toBeGreaterThan(0);
        const cut = await runProxy(sandbox, args, (write) => write(line(INIT) + line(INITIALIZED) + slow(2, 20_000)), { MSM_EOF_GRACE_MS: "500" });
        expect(cut.code).toBe(0);
        expect(byId(cut.messages, 2)[0]!.error!.message).toContain("stdin closed");
      } finally {
        server.stop();
      }
    },
    SLOW,
  );
});
