// Resumable answer streams (spec 2025-11-25): a real SDK server closes a tool call's event stream before answering;
// through `msm proxy --url` the editor (the real SDK client over stdio) still gets the real result and every
// notification, because the proxy resumes with GET + Last-Event-ID after the server's `retry` delay.
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { MSM, Sandbox, kill, requireBinary, waitFor } from "../helpers/sandbox.ts";

const SLOW = 60_000;
const FIXTURE = resolve(import.meta.dir, "../fixtures/resumable-server.ts");

async function startServer(sandbox: Sandbox, ...flags: string[]): Promise<{ url: string; pid: number }> {
  const child = Bun.spawn([process.execPath, FIXTURE, "0", ...flags], { env: sandbox.env, stdout: "pipe", stderr: "inherit" });
  sandbox.track(child.pid);
  let output = "";
  void (async () => {
    for await (const chunk of child.stdout) output += new TextDecoder().decode(chunk);
  })();
  const port = await waitFor(() => /listening on port (\d+)/.exec(output)?.[1], 20_000, "the resumable server to listen");
  return { url: `http://127.0.0.1:${port}/mcp`, pid: child.pid };
}

async function openProxy(sandbox: Sandbox, url: string): Promise<{ client: Client; logs: string[]; stderr: () => string }> {
  requireBinary();
  const transport = new StdioClientTransport({
    command: MSM,
    args: ["proxy", "--url", url],
    env: { ...sandbox.env, MSM_DEBUG: "1" },
    cwd: sandbox.root,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "msm-test", version: "1.0.0" });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logs.push(String(n.params.data)));
  await client.connect(transport);
  sandbox.track(transport.pid);
  return { client, logs, stderr: () => stderr };
}

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

test(
  "a server that closes the answer stream on purpose: the proxy resumes after `retry` and the editor gets the real result",
  async () => {
    await using sandbox = new Sandbox();
    const server = await startServer(sandbox);
    const { client, logs, stderr } = await openProxy(sandbox, server.url);
    const started = performance.now();
    const result = await client.callTool({ name: "close-then-answer", arguments: { ms: 200 } });
    const elapsed = performance.now() - started;
    expect(result.isError ?? false).toBe(false);
    expect(text(result)).toBe("the real result");
    // Not before the server's retry (400 ms): the spec says the client MUST wait it.
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(logs).toEqual(["before close", "while away"]);
    expect(text(await client.callTool({ name: "resumes", arguments: {} }))).toBe("1");
    // Several at once, each on its own stream, each resumed on its own.
    const many = await Promise.all([0, 1, 2, 3].map(() => client.callTool({ name: "close-then-answer", arguments: { ms: 50 } })));
    expect(many.map(text)).toEqual(Array(4).fill("the real result"));
    expect(stderr()).toContain("resumed the answer");
    await client.close();
  },
  SLOW,
);

test(
  "a closed stream that cannot be resumed (no event ids; the server died) still gets an error, never silence",
  async () => {
    await using sandbox = new Sandbox();
    // No event store: the server closes the stream without ever sending an event id, so there is nothing to resume.
    const plain = await startServer(sandbox, "--no-event-store");
    const a = await openProxy(sandbox, plain.url);
    const failed = await a.client.callTool({ name: "close-then-answer", arguments: { ms: 50 } }).catch((error: Error) => error);
    expect(String(failed)).toContain("stopped while handling this request");
    await a.client.close();

    // Resumable, but the server is killed while the client waits out `retry`: the resume is refused, the editor told.
    const doomed = await startServer(sandbox);
    const b = await openProxy(sandbox, doomed.url);
    const call = b.client.callTool({ name: "close-then-answer", arguments: { ms: 30_000 } }).catch((error: Error) => error);
    await waitFor(() => b.logs.includes("before close"), 20_000, "the tool to start");
    kill(doomed.pid, "SIGKILL");
    expect(String(await call)).toContain("stopped while handling this request");
    await b.client.close();
  },
  SLOW,
);
