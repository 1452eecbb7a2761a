// The proxy in front of msm's own memory daemon, as an editor runs it: restarts it never shows, input it must
// survive, messages far larger than a pipe buffer, and the signals editors send.
import { describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { MSM, Sandbox, alive, call, kill, openSession, waitFor } from "../helpers/sandbox.ts";

/** Daemon restarts and big payloads take seconds on a busy 2-core machine; no timing is asserted. */
const SLOW = 60_000;

type Graph = { entities: { name: string; entityType: string; observations: string[] }[]; relations: unknown[] };

const INIT = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

/** A proxy driven by hand over raw stdio, for what the SDK client would refuse to send. */
function rawProxy(sandbox: Sandbox, cwd: string, env: Record<string, string> = {}) {
  const proxy = Bun.spawn([MSM, "proxy", "--target", "memory"], { cwd, env: { ...sandbox.env, ...env }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  sandbox.track(proxy.pid);
  const messages: Record<string, unknown>[] = [];
  const rawLines: string[] = [];
  void (async () => {
    let buffer = "";
    for await (const chunk of proxy.stdout) {
      buffer += new TextDecoder().decode(chunk);
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        rawLines.push(line);
        messages.push(JSON.parse(line));
      }
    }
  })();
  return {
    proxy,
    messages,
    rawLines,
    send: (line: string | object) => {
      proxy.stdin.write((typeof line === "string" ? line : JSON.stringify(line)) + "\n");
      proxy.stdin.flush();
    },
    answer: (id: unknown) => waitFor(() => messages.find((m) => m.id === id), 20_000, `answer ${JSON.stringify(id)}`),
  };
}

describe("a daemon restart is invisible", () => {
  test(
    "daemon SIGKILLed under a live session: the next call succeeds and the data is intact",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      const s = await openSession(sandbox, project);
      await call(s.client, "create_entities", { entities: [{ name: "durable", entityType: "t", observations: ["before the crash"] }] });
      const first = sandbox.lock("memory")!.pid;
      kill(first, "SIGKILL");
      await waitFor(() => !alive(first), 5_000, "daemon to die");

      // No reconnect by the client: the proxy restarts the daemon, re-initializes and resends.
      const graph = await call<Graph>(s.client, "read_graph");
      expect(graph.entities).toEqual([{ name: "durable", entityType: "t", observations: ["before the crash"] }]);
      const second = sandbox.lock("memory")!.pid;
      expect(second).not.toBe(first);
      expect(alive(second)).toBe(true);
      await call(s.client, "add_observations", { observations: [{ entityName: "durable", contents: ["after the crash"] }] });
      expect((await call<Graph>(s.client, "open_nodes", { names: ["durable"] })).entities[0]!.observations).toEqual(["before the crash", "after the crash"]);

      // And again: a second crash is survived the same way.
      kill(second, "SIGKILL");
      await waitFor(() => !alive(second), 5_000, "daemon to die again");
      expect((await call<Graph>(s.client, "read_graph")).entities.length).toBe(1);
      if (s.stderr().includes("error")) console.error("STDERR", s.stderr());
      expect(s.stderr()).not.toContain("error");
      await s.close();
    },
    SLOW,
  );

  test("on a busy machine, every call started after a SIGKILL of the daemon succeeds, under 8 sessions", async () => {
    await using sandbox = new Sandbox();
    // Two busy loops take both cores for the whole test: a reset that comes late is what made calls fail before.
    const busy = [0, 1].map(() => Bun.spawn(["sh", "-c", "while :; do :; done"], { stdout: "ignore", stderr: "ignore" }));
    for (const b of busy) sandbox.track(b.pid);
    try {
      const project = sandbox.project("p");
      const sessions = await Promise.all(Array.from({ length: 8 }, () => openSession(sandbox, project)));
      await call(sessions[0]!.client, "create_entities", { entities: [{ name: "hub", entityType: "t", observations: [] }] });
      let killedAt = Infinity;
      let stop = false;
      const afterKill: { ok: number; failed: string[] } = { ok: 0, failed: [] };
      const loops = sessions.map(async (s, i) => {
        for (let k = 0; !stop && !sandbox.closed; k++) {
          const startedAt = performance.now();
          try {
            await call(s.client, "add_observations", { observations: [{ entityName: "hub", contents: [`s${i}-${k}`] }] });
            if (startedAt > killedAt) afterKill.ok++;
          } catch (error) {
            if (startedAt > killedAt) afterKill.failed.push(String(error));
          }
        }
      });
      try {
        await waitFor(() => sandbox.lock("memory"), 10_000, "the daemon's lock");
        const daemon = sandbox.lock("memory")!.pid;
        kill(daemon, "SIGKILL");
        killedAt = performance.now();
        await waitFor(() => !alive(daemon), 10_000, "the daemon to die");
        // Each session goes on calling through the restart; 80 answered calls after the kill is plenty of chances.
        await waitFor(() => afterKill.ok + afterKill.failed.length >= 80, 45_000, "calls after the kill");
      } finally {
        stop = true;
        await Promise.all(loops);
      }
      expect(afterKill.failed).toEqual([]);
      for (const s of sessions) await s.close();
    } finally {
      for (const b of busy) b.kill("SIGKILL");
    }
  }, 90_000);

  test(
    "a daemon stopped politely (SIGTERM) is replaced the same way",
    async () => {
      await using sandbox = new Sandbox();
      const s = await openSession(sandbox, sandbox.project("p"));
      await call(s.client, "create_entities", { entities: [{ name: "x", entityType: "t", observations: [] }] });
      const first = sandbox.lock("memory")!.pid;
      kill(first, "SIGTERM");
      await waitFor(() => !alive(first), 5_000, "daemon to stop");
      expect((await call<Graph>(s.client, "search_nodes", { query: "x" })).entities.map((e) => e.name)).toEqual(["x"]);
      await s.close();
    },
    SLOW,
  );
});

describe("input hygiene", () => {
  test(
    "malformed line → -32700 id null, invalid message → -32600, and the session carries on",
    async () => {
      await using sandbox = new Sandbox();
      const p = rawProxy(sandbox, sandbox.project("p"));
      p.send(INIT);
      await p.answer(0);
      p.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      p.send("{this is not json");
      await waitFor(() => p.messages.some((m) => (m.error as { code?: number })?.code === -32700), 10_000, "-32700");
      const parseError = p.messages.find((m) => (m.error as { code?: number })?.code === -32700)!;
      expect(parseError.id).toBeNull();
      p.send({ jsonrpc: "2.0", id: 7 }); // neither method nor result/error
      expect(((await p.answer(7)).error as { code: number }).code).toBe(-32600);
      p.send({ jsonrpc: "1.0", id: 8, method: "tools/list" });
      expect(((await p.answer(8)).error as { code: number }).code).toBe(-32600);
      p.send("[]");
      await waitFor(() => p.messages.filter((m) => (m.error as { code?: number })?.code === -32600).length === 3, 10_000, "empty batch -32600");
      // A batch is split: each request answered on its own line.
      p.send([
        { jsonrpc: "2.0", id: 9, method: "tools/list" },
        { jsonrpc: "2.0", id: 10, method: "ping" },
      ]);
      expect(((await p.answer(9)).result as { tools: unknown[] }).tools.length).toBeGreaterThan(5);
      expect((await p.answer(10)).result).toEqual({});
      expect(p.rawLines.every((l) => !l.includes("\n") && l.startsWith("{"))).toBe(true);
      p.proxy.stdin.end();
      expect(await p.proxy.exited).toBe(0);
    },
    SLOW,
  );

  test(
    "5 MiB messages cross both ways intact",
    async () => {
      await using sandbox = new Sandbox();
      // The SDK's stdio client drops lines over 10 MiB by default, and a memory answer carries the data twice
      // (text + structuredContent), so this editor is given a larger buffer, as one handling big payloads would be.
      const transport = new StdioClientTransport({
        command: MSM,
        args: ["proxy", "--target", "memory"],
        env: sandbox.env,
        cwd: sandbox.project("p"),
        stderr: "pipe",
        maxBufferSize: 64 * 1024 * 1024,
      });
      const client = new Client({ name: "big", version: "1" });
      await client.connect(transport);
      sandbox.track(transport.pid);
      const s = { client, close: () => client.close() };
      const big = "x".repeat(5 * 1024 * 1024 - 7) + "€ünïcø";
      await call(s.client, "create_entities", { entities: [{ name: "big", entityType: "blob", observations: [big] }] });
      const back = await call<Graph>(s.client, "open_nodes", { names: ["big"] });
      expect(back.entities[0]!.observations[0]!.length).toBe(big.length);
      expect(back.entities[0]!.observations[0] === big).toBe(true);
      await s.close();
    },
    SLOW,
  );
});

describe("signals and exit", () => {
  test(
    "SIGTERM and SIGHUP end the proxy; SIGINT does not",
    async () => {
      await using sandbox = new Sandbox();
      for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        const p = rawProxy(sandbox, sandbox.project("p"));
        p.send(INIT);
        await p.answer(0);
        kill(p.proxy.pid, "SIGINT");
        // Pending from the kill() on: a proxy SIGINT could end would be gone before it answered this ping.
        p.send({ jsonrpc: "2.0", id: 1, method: "ping" });
        await p.answer(1);
        expect(alive(p.proxy.pid)).toBe(true);
        p.messages.length = 0;
        kill(p.proxy.pid, signal);
        expect(await p.proxy.exited).toBe(signal === "SIGTERM" ? 143 : 129);
      }
    },
    SLOW,
  );

  test(
    "stdin EOF right after a request: its answer is written, then exit 0",
    async () => {
      await using sandbox = new Sandbox();
      const p = rawProxy(sandbox, sandbox.project("p"));
      p.send(INIT);
      p.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      p.send({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "create_entities", arguments: { entities: [{ name: "last", entityType: "t", observations: [] }] } },
      });
      p.proxy.stdin.end();
      expect(await p.proxy.exited).toBe(0);
      await waitFor(() => p.messages.find((m) => m.id === 1), 2_000, "the answer");
      expect(p.messages.find((m) => m.id === 1)!.result).toBeDefined();
    },
    SLOW,
  );
});

describe("--url reaches any MCP HTTP server without config", () => {
  test(
    "plain http and streamable-http to the memory daemon, with --header for its token",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      const warm = await openSession(sandbox, project);
      await call(warm.client, "create_entities", { entities: [{ name: "via-url", entityType: "t", observations: [] }] });
      const { port } = sandbox.lock("memory")!;
      for (const transport of ["http", "streamable-http"]) {
        const stdio = new StdioClientTransport({
          command: MSM,
          args: [
            "proxy",
            "--url",
            `http://127.0.0.1:${port}/mcp`,
            "--transport",
            transport,
            "--header",
            `Authorization: Bearer ${sandbox.token()}`,
            "--project",
            project,
          ],
          env: sandbox.env,
          cwd: sandbox.root,
          stderr: "pipe",
        });
        const client = new Client({ name: "url", version: "1" });
        await client.connect(stdio);
        sandbox.track(stdio.pid);
        expect((await call<Graph>(client, "read_graph")).entities.map((e) => e.name)).toEqual(["via-url"]);
        await client.close();
      }
      await warm.close();
    },
    SLOW,
  );
});
