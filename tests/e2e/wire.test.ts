// The line wire between `msm proxy` and msm's own daemons (docs/architecture.md "Wire between proxy and daemon"),
// through the compiled binary: where it listens and who may connect, a session that ends the moment its proxy dies,
// MSM_WIRE=http, and a 50 MB answer from a hosted child that crosses the host and the proxy whole, byte for byte —
// with stdin closed right after the request, on a busy machine (the exit must not cut it short).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { NODE } from "../helpers/hosted.ts";
import { MSM, Sandbox, call, kill, openSession, waitFor } from "../helpers/sandbox.ts";

const BIG = resolve(import.meta.dir, "../fixtures/big-stdio-server.mjs");
const RAW = resolve(import.meta.dir, "../fixtures/raw-stdio-server.ts");

async function stats(sandbox: Sandbox, name: string): Promise<{ sessions: number; wireConnections?: number }> {
  const lock = sandbox.lock(name)!;
  const response = await fetch(`http://127.0.0.1:${lock.port}/stats`, { headers: { authorization: `Bearer ${sandbox.token()}` } });
  return (await response.json()) as { sessions: number; wireConnections?: number };
}

/** Two busy loops, one per core, for as long as the test runs. */
function busyLoops(): { stop(): void } {
  const loops = [0, 1].map(() => Bun.spawn([process.execPath, "-e", "for(;;){}"], { stdout: "ignore", stderr: "ignore" }));
  return {
    stop: () => {
      for (const p of loops) p.kill("SIGKILL");
    },
  };
}

/** Hello, and the line the daemon answers it with. */
async function hello(path: string, token: string): Promise<Record<string, unknown>> {
  let text = "";
  const { promise, resolve: done } = Promise.withResolvers<Record<string, unknown>>();
  const socket = await Bun.connect({
    unix: path,
    socket: {
      data: (_s, chunk) => {
        text += chunk.toString();
        if (text.includes("\n")) done(JSON.parse(text.slice(0, text.indexOf("\n"))));
      },
    },
  });
  socket.write(`${JSON.stringify({ msm: "hello", v: 1, token })}\n`);
  const answer = await promise;
  socket.terminate();
  return answer;
}

describe("the line wire", () => {
  test("a daemon listens on a socket in MSM_HOME only its user can open, and wants the token in the hello", async () => {
    await using sandbox = new Sandbox();
    const session = await openSession(sandbox, sandbox.project("p"));
    await call(session.client, "read_graph");
    const wire = String((sandbox.lock("memory") as { wire?: string }).wire);
    expect(wire).toBe(`unix:${sandbox.msmHome}/memory.sock`);
    const path = wire.slice("unix:".length);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await hello(path, "not the token")).toEqual({ msm: "refused", message: "missing or wrong token (see $MSM_HOME/token)" });
    expect(await hello(path, sandbox.token())).toMatchObject({ msm: "welcome", v: 1 });
    // The session is on the wire, not HTTP.
    expect(await stats(sandbox, "memory")).toMatchObject({ sessions: 1, wireConnections: 1 });
    await session.close();
  }, 60_000);

  test("a SIGKILLed proxy's session ends at the daemon at once; MSM_WIRE=http keeps a session on HTTP", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    const wired = await openSession(sandbox, project);
    const http = await openSession(sandbox, project, { env: { MSM_WIRE: "http" } });
    await call(wired.client, "create_entities", { entities: [{ name: "a", entityType: "t", observations: [] }] });
    expect((await call<{ entities: unknown[] }>(http.client, "read_graph")).entities).toHaveLength(1);
    expect(await stats(sandbox, "memory")).toMatchObject({ sessions: 2, wireConnections: 1 });
    const killed = Date.now();
    kill(wired.pid, "SIGKILL");
    await waitFor(async () => (await stats(sandbox, "memory")).sessions === 1, 5_000, "the dead proxy's session to end");
    expect(Date.now() - killed).toBeLessThan(1_000);
    await http.close();
  }, 60_000);

  // lib/platform/lean.ts: a proxy starts itself again without the JIT; nothing it starts or hands on runs so.
  test.if(process.platform === "linux")(
    "a proxy runs without the JIT; the daemons it starts and a hosted server's environment keep it",
    async () => {
      await using sandbox = new Sandbox({ targets: { raw: { command: process.execPath, args: [RAW] } } });
      const project = sandbox.project("p");
      const session = await openSession(sandbox, project, { target: "raw" });
      const text = (await session.client.callTool({ name: "env", arguments: { names: ["BUN_JSC_useJIT", "MSM_LEAN_PROXY"] } })) as {
        content: { text: string }[];
      };
      expect(JSON.parse(text.content[0]!.text).env).toEqual({ BUN_JSC_useJIT: null, MSM_LEAN_PROXY: null });
      const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim());
      expect(threads(session.pid).filter((t) => t.startsWith("JIT"))).toEqual([]);
      for (const name of ["supervisor", "raw"]) {
        const pid = sandbox.lock(name)!.pid;
        expect(
          readFileSync(`/proc/${pid}/environ`, "utf8")
            .split("\0")
            .filter((v) => /^(BUN_JSC_|MSM_LEAN_PROXY)/.test(v)),
        ).toEqual([]);
      }
      await session.close();
    },
    60_000,
  );

  test("a burst of calls written at once (many lines in one chunk) is answered whole", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    const proxy = Bun.spawn([MSM, "proxy", "--target", "memory"], {
      cwd: project,
      env: { ...sandbox.env, MSM_PROJECT_DIR: project },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "ignore",
    });
    sandbox.track(proxy.pid);
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    };
    let burst = `${JSON.stringify(init)}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`;
    for (let id = 10; id < 210; id++)
      burst += `${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "read_graph", arguments: {} } })}\n`;
    proxy.stdin.write(burst);
    await proxy.stdin.end();
    const lines = (await new Response(proxy.stdout).text()).trimEnd().split("\n");
    const ids = lines.map((l) => (JSON.parse(l) as { id: number; error?: unknown }).id).sort((a, b) => a - b);
    expect(ids).toEqual([1, ...Array.from({ length: 200 }, (_, i) => 10 + i)]);
    expect(lines.filter((l) => l.includes('"error"'))).toEqual([]);
  }, 60_000);

  for (const [what, char] of [
    ["ASCII", "x"],
    ["two bytes a character", "é"],
  ] as const) {
    test(`a hosted child's 50 MB answer (${what}) reaches the editor whole, with stdin closed right after the request, on a busy machine`, async () => {
      await using sandbox = new Sandbox({ targets: { big: { command: NODE, args: [BIG] } } });
      const project = sandbox.project("p");
      const load = busyLoops();
      try {
        for (const wire of ["line", "http"]) {
          const proxy = Bun.spawn([MSM, "proxy", "--target", "big"], {
            cwd: project,
            env: { ...sandbox.env, MSM_PROJECT_DIR: project, ...(wire === "http" ? { MSM_WIRE: "http" } : {}) },
            stdin: "pipe",
            stdout: "pipe",
            stderr: "ignore",
          });
          sandbox.track(proxy.pid);
          const init = {
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
          };
          proxy.stdin.write(`${JSON.stringify(init)}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
          proxy.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "big", arguments: { mb: 50, char } } })}\n`);
          await proxy.stdin.end();
          const out = Buffer.from(await new Response(proxy.stdout).arrayBuffer());
          expect(await proxy.exited).toBe(0);
          const lines = out.toString("utf8").trimEnd().split("\n");
          expect(lines).toHaveLength(2);
          const answer = JSON.parse(lines[1]!) as { id: number; result: { content: { text: string }[] } };
          expect(answer.id).toBe(2);
          const text = answer.result.content[0]!.text;
          expect(Buffer.byteLength(text)).toBe(50_000_000);
          expect(text.replaceAll(char, "")).toBe("");
        }
      } finally {
        load.stop();
      }
    }, 180_000);
  }
});
