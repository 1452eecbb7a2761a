// An editor that stops reading stdout must not hold its proxy's memory without bound: with more than the session
// bound (64 MiB) unread and nothing taken for 10 s, the editor is not reading at all and the proxy ends, as for a
// closed stdout. Measured before: 10 answers of 20 MB grew a proxy to 251–428 MB, for as long as it lived.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { constants, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, waitFor } from "../helpers/sandbox.ts";

const ANSWER_CHARS = 20 * 1024 * 1024;

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

describe("proxy: an editor that stops reading", () => {
  test("10 answers of 20 MB never read: once nothing has been taken for 10 s the proxy ends, saying why", async () => {
    const sandbox = new Sandbox();
    const text = "x".repeat(ANSWER_CHARS);
    let answered = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(request) {
        const message = (await request.json()) as { id?: number; method: string };
        if (message.id === undefined) return new Response(null, { status: 202 });
        if (message.method === "initialize")
          return Response.json({
            jsonrpc: "2.0",
            id: message.id,
            result: { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "big", version: "1" } },
          });
        answered++;
        return Response.json({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text }] } });
      },
    });
    try {
      // stdout is a pipe nobody reads (a FIFO opened read-write and left alone): Bun's own pipe would buffer for us.
      const fifo = join(sandbox.root, "stdout.fifo");
      execFileSync("mkfifo", [fifo]);
      const stdoutFd = openSync(fifo, constants.O_RDWR);
      const proxy = Bun.spawn([MSM, "proxy", "--url", `http://127.0.0.1:${server.port}/mcp`], {
        env: sandbox.env,
        stdin: "pipe",
        stdout: stdoutFd,
        stderr: "pipe",
      });
      sandbox.track(proxy.pid);
      const init = {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      };
      proxy.stdin.write(`${JSON.stringify(init)}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
      for (let id = 2; id <= 11; id++)
        proxy.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "big", arguments: {} } })}\n`);
      await proxy.stdin.flush();
      // Nobody reads stdout: once the server has answered all ten, the proxy has had every chance to take them.
      await waitFor(() => answered === 10, 60_000, "the server answered every call");
      const stalledAt = Date.now();
      const held = rssMb(proxy.pid);
      // Nothing is taken: within the stall time (and a margin for a busy machine) the proxy has ended.
      expect(await Promise.race([proxy.exited.then(() => true), Bun.sleep(40_000).then(() => false)])).toBe(true);
      console.log(`proxy RSS with 10 × 20 MB answers unread: ${held.toFixed(0)} MB; it ended ${((Date.now() - stalledAt) / 1000).toFixed(1)} s after`);
      expect(await new Response(proxy.stderr).text()).toContain("the editor has not read any of");
      proxy.kill();
    } finally {
      server.stop(true);
      await sandbox.cleanup();
    }
  }, 120_000);
});
