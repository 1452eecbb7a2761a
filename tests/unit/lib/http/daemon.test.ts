import { expect, test } from "bun:test";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Hono } from "hono";
import { routeMcp, sessionTransportOptions } from "../../../../src/lib/http/daemon.ts";
import { LeanHttpTransport } from "../../../../src/lib/http/lean-transport.ts";
import { onResponseDone, SessionTable } from "../../../../src/lib/http/sessions.ts";

interface Session {
  transport: LeanHttpTransport;
  closed: string[];
  close(reason: string): void;
}

/** A daemon's /mcp as routeMcp builds it, with a real SDK server behind each session. */
function daemon() {
  const app = new Hono();
  const sessions = new SessionTable<Session>();
  const closed: string[] = [];
  let requests = 0;
  routeMcp(app, sessions, {
    open: async () => {
      const server = new McpServer({ name: "t", version: "1" });
      const transport = new LeanHttpTransport(sessionTransportOptions(sessions, () => session));
      const close = (reason: string) => {
        closed.push(reason);
        void server.close();
      };
      const session: Session = { transport, closed, close };
      await server.connect(transport);
      return session;
    },
    deliver: (_session, response, done, request) => onResponseDone(response, done, request.signal),
    seen: () => void requests++,
  });
  return { app, sessions, closed, requests: () => requests };
}

const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } },
};

test("routeMcp: 400 without a session, 404 for an unknown one, a session per initialize, gone after DELETE", async () => {
  const { app, sessions, closed, requests } = daemon();
  expect((await app.request("/mcp", { method: "GET" })).status).toBe(400);
  expect((await app.request("/mcp", { method: "GET", headers: { "mcp-session-id": "nope" } })).status).toBe(404);

  // A POST that is not an initialize opens nothing anyone could reach again.
  const stray = await app.request("/mcp", { method: "POST", headers: HEADERS, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
  expect(stray.status).toBe(400);
  expect(sessions.size).toBe(0);
  expect(closed).toEqual(["not an initialize request"]);

  const opened = await app.request("/mcp", { method: "POST", headers: HEADERS, body: JSON.stringify(initialize) });
  expect(opened.status).toBe(200);
  await opened.text();
  const id = opened.headers.get("mcp-session-id")!;
  expect(sessions.size).toBe(1);

  const gone = await app.request("/mcp", { method: "DELETE", headers: { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" } });
  expect(gone.status).toBe(200);
  expect(sessions.size).toBe(0);
  expect(closed).toContain("closed by its client");
  expect(requests()).toBe(5);
}, 10_000);
