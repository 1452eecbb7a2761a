// The proxy against the reference server (@modelcontextprotocol/server-everything) through `--url`, on both HTTP
// transports, with the real SDK client over stdio: everything an editor relies on must cross in both directions.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  CreateMessageRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { MSM, Sandbox, alive, kill, requireBinary, waitFor } from "../helpers/sandbox.ts";

/** Starting node servers and daemons takes seconds on a busy 2-core machine; no timing is asserted. */
const SLOW = 60_000;

const EVERYTHING = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

interface Everything {
  url: string;
  port: number;
  pid: number;
  output: () => string;
}

/** server-everything on a free port: `streamableHttp` serves /mcp, `sse` serves /sse + /message. */
async function startEverything(sandbox: Sandbox, mode: "streamableHttp" | "sse", port?: number): Promise<Everything> {
  port ??= await freePort();
  const child = Bun.spawn(["node", EVERYTHING, mode], { env: { ...sandbox.env, PORT: String(port) }, stdout: "pipe", stderr: "pipe" });
  sandbox.track(child.pid);
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += new TextDecoder().decode(chunk);
  };
  void collect(child.stdout);
  void collect(child.stderr);
  const url = `http://127.0.0.1:${port}${mode === "sse" ? "/sse" : "/mcp"}`;
  await waitFor(() => /listening on port|running on port/i.test(output), 20_000, "server-everything to listen");
  return { url, port, pid: child.pid, output: () => output };
}

interface UrlSession {
  client: Client;
  pid: number;
  stderr: () => string;
  listChanged: () => number;
  logs: string[];
  close: () => Promise<void>;
}

async function openUrlSession(sandbox: Sandbox, url: string, transport: "streamable-http" | "sse"): Promise<UrlSession> {
  requireBinary();
  const stdio = new StdioClientTransport({
    command: MSM,
    args: ["proxy", "--url", url, "--transport", transport, "--header", "X-Test: yes"],
    env: sandbox.env,
    cwd: sandbox.root,
    stderr: "pipe",
  });
  let stderr = "";
  stdio.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "msm-test", version: "1.0.0" }, { capabilities: { sampling: {}, roots: { listChanged: true } } });
  let listChanged = 0;
  const logs: string[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    listChanged++;
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
    logs.push(String(n.params.data));
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
    model: "editor-model",
    role: "assistant",
    content: { type: "text", text: `editor saw: ${JSON.stringify(request.params.messages[0]?.content)}` },
  }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///work/project-root", name: "project-root" }] }));
  await client.connect(stdio);
  sandbox.track(stdio.pid);
  return { client, pid: stdio.pid!, stderr: () => stderr, listChanged: () => listChanged, logs, close: () => client.close().catch(() => {}) };
}

const text = (result: unknown) => ((result as { content?: unknown }).content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("\n");

for (const [mode, transport] of [
  ["streamableHttp", "streamable-http"],
  ["sse", "sse"],
] as const) {
  describe(`server-everything over ${transport} through --url`, () => {
    test(
      "progress, sampling and roots round trips, list_changed, logging",
      async () => {
        await using sandbox = new Sandbox();
        const server = await startEverything(sandbox, mode);
        const s = await openUrlSession(sandbox, server.url, transport);

        // list_changed: the server registers its capability-dependent tools right after notifications/initialized.
        await waitFor(() => s.listChanged() > 0, 10_000, "tools/list_changed");
        const tools = (await s.client.listTools()).tools.map((t) => t.name);
        expect(tools).toContain("trigger-sampling-request");
        expect(tools).toContain("get-roots-list");

        // Progress notifications arrive before the result. (The SDK client dispatches notifications a microtask late,
        // so one sharing a read with the result can miss its handler; the exact wire order is checked on raw stdout
        // in the stdin-EOF test below.)
        const progress: number[] = [];
        const long = await s.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 0.6, steps: 3 } }, undefined, {
          onprogress: (p) => progress.push(p.progress),
        });
        expect(progress.slice(0, 2)).toEqual([1, 2]);
        expect(text(long)).toContain("Long running operation completed");

        // Sampling: the server asks the editor mid-call; the editor's answer goes back; the tool result carries it.
        const sampled = await s.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "ping from server", maxTokens: 5 } });
        expect(text(sampled)).toContain("editor-model");
        expect(text(sampled)).toContain("ping from server");

        // Roots: the server asks the editor for its roots (on the GET stream, unprompted) and reports them.
        const roots = await s.client.callTool({ name: "get-roots-list", arguments: {} });
        expect(text(roots)).toContain("file:///work/project-root");
        await waitFor(() => s.logs.some((l) => l.includes("Roots updated")), 10_000, "roots logging notification");

        // Everything on stdout was JSON-RPC (the SDK client would have failed otherwise) and the proxy is healthy.
        expect(alive(s.pid)).toBe(true);
        await s.close();
        await waitFor(() => !alive(s.pid), 5_000, "proxy to exit after stdin closed");
      },
      SLOW,
    );
  });
}

for (const [mode, transport] of [
  ["streamableHttp", "streamable-http"],
  ["sse", "sse"],
] as const) {
  test(
    `${transport}: the server killed and restarted under a live session — the next call just works`,
    async () => {
      await using sandbox = new Sandbox();
      const first = await startEverything(sandbox, mode);
      const s = await openUrlSession(sandbox, first.url, transport);
      expect(text(await s.client.callTool({ name: "echo", arguments: { message: "one" } }))).toContain("one");
      kill(first.pid, "SIGKILL");
      await waitFor(() => !alive(first.pid), 5_000, "server to die");
      await startEverything(sandbox, mode, first.port);
      // The client knows nothing: the proxy re-initializes with the editor's own initialize and resends.
      expect(text(await s.client.callTool({ name: "echo", arguments: { message: "two" } }))).toContain("two");
      const tools = (await s.client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain("trigger-sampling-request"); // the replayed initialize carried the editor's capabilities
      await s.close();
    },
    SLOW,
  );
}

describe("stdin closed right after a request", () => {
  test(
    "the answer (after its progress, in order) is still written, the session is DELETEd, exit code 0",
    async () => {
      await using sandbox = new Sandbox();
      const server = await startEverything(sandbox, "streamableHttp");
      const proxy = Bun.spawn([MSM, "proxy", "--url", server.url], { env: sandbox.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      sandbox.track(proxy.pid);
      const lines = [
        { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } },
        { jsonrpc: "2.0", method: "notifications/initialized" },
        {
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 }, _meta: { progressToken: "p" } },
        },
      ];
      proxy.stdin.write(lines.map((l) => JSON.stringify(l) + "\n").join(""));
      proxy.stdin.end();
      const code = await proxy.exited;
      const out = (await new Response(proxy.stdout).text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(code).toBe(0);
      const relevant = out.filter((m) => m.id !== undefined || m.method === "notifications/progress");
      expect(relevant.map((m) => m.id ?? `progress ${m.params.progress}`)).toEqual([1, "progress 1", "progress 2", 2]);
      expect(relevant[3].result.content[0].text).toContain("Long running operation completed");
      await waitFor(() => server.output().includes("Received session termination request"), 5_000, "the session DELETE");
    },
    SLOW,
  );
});
