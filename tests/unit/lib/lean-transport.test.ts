// LeanHttpTransport with a real SDK McpServer, requests as Web Requests (no sockets): a request whose handler says
// nothing else is answered with JSON; one whose handler logs or asks the client something before answering becomes
// an SSE stream carrying those messages, then the answer. Nothing about a request is ever dropped.
import { describe, expect, test } from "bun:test";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { LeanHttpTransport } from "../../../src/lib/http/lean-transport.ts";

const URL_ = "http://127.0.0.1/mcp";
const VERSION = "2025-06-18";

async function connected() {
  const server = new McpServer({ name: "t", version: "1" }, { capabilities: { logging: {} } });
  server.registerTool("quiet", { inputSchema: {} }, async () => ({ content: [{ type: "text", text: "done" }] }));
  server.registerTool("chatty", { inputSchema: {} }, async (_args, extra) => {
    await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: "working" } });
    return { content: [{ type: "text", text: "done" }] };
  });
  const transport = new LeanHttpTransport({ sessionIdGenerator: () => "session-1" });
  await server.connect(transport);
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const post = (body: unknown) => transport.handleRequest(new Request(URL_, { method: "POST", headers, body: JSON.stringify(body) }));
  const init = await post({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "c", version: "1" } },
  });
  await init.text();
  headers["mcp-session-id"] = "session-1";
  headers["mcp-protocol-version"] = VERSION;
  await post({ jsonrpc: "2.0", method: "notifications/initialized" });
  return { server, transport, post };
}

const events = (text: string) =>
  text
    .split("\n\n")
    .filter((e) => e.includes("data:"))
    .map((e) =>
      JSON.parse(
        e
          .split("\n")
          .find((l) => l.startsWith("data:"))!
          .slice(5),
      ),
    );

describe("LeanHttpTransport", () => {
  test("an answer that comes alone is JSON; one preceded by a log becomes SSE with both, in order", async () => {
    const { server, post } = await connected();
    const quiet = await post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "quiet", arguments: {} } });
    expect(quiet.headers.get("content-type")).toBe("application/json");
    expect(quiet.headers.get("mcp-session-id")).toBe("session-1");
    expect(((await quiet.json()) as { id: number }).id).toBe(1);

    const chatty = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "chatty", arguments: {} } });
    expect(chatty.headers.get("content-type")).toBe("text/event-stream");
    const messages = events(await chatty.text());
    expect(messages.map((m) => m.method ?? `answer ${m.id}`)).toEqual(["notifications/message", "answer 2"]);
    await server.close();
  }, 10_000);

  test("a cancelled request's held HTTP request is ended (202), not left open", async () => {
    const { server, post } = await connected();
    let started = false;
    server.registerTool("forever", { inputSchema: {} }, async (_args, extra) => {
      started = true;
      await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
      return { content: [{ type: "text", text: "never sent" }] };
    });
    const answer = post({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "forever", arguments: {} } });
    while (!started) await Bun.sleep(1);
    expect((await post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 4, reason: "user" } })).status).toBe(202);
    expect((await answer).status).toBe(202);
    await server.close();
  }, 10_000);

  test("closing the session answers a held request with an error instead of leaving it hanging", async () => {
    const { server, transport, post } = await connected();
    let release!: () => void;
    server.registerTool("slow", { inputSchema: {} }, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { content: [{ type: "text", text: "late" }] };
    });
    const answer = post({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "slow", arguments: {} } });
    while (!release) await Bun.sleep(1);
    await transport.close();
    const response = await answer;
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("session closed");
    release();
    await server.close();
  }, 10_000);
});
