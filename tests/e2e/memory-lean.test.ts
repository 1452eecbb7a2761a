// The memory daemon's lean request path, over real HTTP: a request that cannot stream is answered with one JSON body;
// everything that may stream (a progress token, a batch, initialize) keeps the SSE answer, and unsolicited messages
// (resources/updated after another session's write) still arrive on the GET stream.
import { describe, expect, test } from "bun:test";
import { Sandbox, call, openSession, waitFor } from "../helpers/sandbox.ts";

const VERSION = "2025-06-18";

/** A raw MCP session with the daemon, as the proxy holds one. */
async function rawSession(sandbox: Sandbox, project: string) {
  const { port } = sandbox.lock("memory")!;
  const url = `http://127.0.0.1:${port}/mcp`;
  const headers: Record<string, string> = {
    authorization: `Bearer ${sandbox.token()}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-project-path": project,
  };
  const post = (body: unknown, extra: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  const init = await post({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
  expect(init.status).toBe(200);
  await init.text();
  headers["mcp-session-id"] = init.headers.get("mcp-session-id")!;
  headers["mcp-protocol-version"] = VERSION;
  expect((await post({ jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202);
  return { url, headers, post };
}

/** A JSON answer's body, loosely typed (the test looks into results of many shapes). */
const body = (response: Response): Promise<any> => response.json();

/** The JSON-RPC messages of an SSE body (data lines of `message` events). */
function sseMessages(text: string): { id?: unknown; method?: string; result?: any; error?: any }[] {
  return text
    .split("\n\n")
    .map((event) =>
      event
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("\n"),
    )
    .filter((data) => data !== "")
    .map((data) => JSON.parse(data));
}

describe("lean answers: JSON when nothing can stream, SSE when something may", () => {
  test("tools/call, ping and tools/list answer application/json; a progress token, a batch and initialize keep SSE", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("lean");
    const editor = await openSession(sandbox, project);
    await call(editor.client, "create_entities", { entities: [{ name: "Ada", entityType: "person", observations: ["writes notes"] }] });
    const raw = await rawSession(sandbox, project);

    const open = await raw.post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "open_nodes", arguments: { names: ["Ada"] } } });
    expect(open.headers.get("content-type")).toBe("application/json");
    expect(open.headers.get("mcp-session-id")).toBe(raw.headers["mcp-session-id"]!);
    const answer = await body(open);
    expect(answer.id).toBe(1);
    expect(answer.result.structuredContent.entities).toEqual([{ name: "Ada", entityType: "person", observations: ["writes notes"] }]);

    const ping = await raw.post({ jsonrpc: "2.0", id: "p", method: "ping" });
    expect(ping.headers.get("content-type")).toBe("application/json");
    expect(await body(ping)).toEqual({ jsonrpc: "2.0", id: "p", result: {} });

    // Cached after the first session's list: the same tools, schemas and all, for every session.
    const lists = await Promise.all([0, 1].map(async (n) => (await body(await raw.post({ jsonrpc: "2.0", id: `l${n}`, method: "tools/list" }))).result));
    expect(lists[1]).toEqual(lists[0]);
    expect((await editor.client.listTools()).tools).toEqual(lists[0].tools);

    // A tool error and an unknown method are answers too.
    const missing = await body(
      await raw.post({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "add_observations", arguments: { observations: [{ entityName: "Nobody", contents: ["x"] }] } },
      }),
    );
    expect(missing.result.isError).toBe(true);
    const unknown = await body(await raw.post({ jsonrpc: "2.0", id: 3, method: "no/such/method" }));
    expect(unknown.error.code).toBe(-32601);

    const progress = await raw.post({
      jsonrpc: "2.0",
      id: 4,
      method: "tools/call",
      params: { name: "read_graph", arguments: {}, _meta: { progressToken: "t" } },
    });
    expect(progress.headers.get("content-type")).toBe("text/event-stream");
    expect(sseMessages(await progress.text()).find((m) => m.id === 4)?.result.structuredContent.entities.length).toBe(1);

    const batch = await raw.post([
      { jsonrpc: "2.0", id: 5, method: "ping" },
      { jsonrpc: "2.0", id: 6, method: "ping" },
    ]);
    expect(batch.headers.get("content-type")).toBe("text/event-stream");
    expect(
      sseMessages(await batch.text())
        .map((m) => m.id)
        .sort(),
    ).toEqual([5, 6]);

    // The SDK's own refusals still come from the SDK: a bad protocol version, a body that is not JSON.
    expect((await raw.post({ jsonrpc: "2.0", id: 7, method: "ping" }, { "mcp-protocol-version": "1999-01-01" })).status).toBe(400);
    const garbage = await fetch(raw.url, { method: "POST", headers: raw.headers, body: "{not json" });
    expect(garbage.status).toBe(400);
    expect((await body(garbage)).error.code).toBe(-32700);
    await editor.close();
  }, 60_000);

  test("many lean calls at once each get their own answer; resources/updated still arrives on the GET stream", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("lean-many");
    const writer = await openSession(sandbox, project);
    const raw = await rawSession(sandbox, project);

    const stream = await fetch(raw.url, { headers: { ...raw.headers, accept: "text/event-stream" } });
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    let received = "";
    const reader = stream.body!.getReader();
    void (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        received += decoder.decode(value, { stream: true });
      }
    })();
    const subscribed = await body(await raw.post({ jsonrpc: "2.0", id: "s", method: "resources/subscribe", params: { uri: "memory://knowledge-graph" } }));
    expect(subscribed.result).toEqual({});

    const names = Array.from({ length: 20 }, (_, i) => `node-${i}`);
    await call(writer.client, "create_entities", { entities: names.map((name) => ({ name, entityType: "t", observations: [] })) });
    await waitFor(() => received.includes("notifications/resources/updated"), 15_000, "resources/updated on the GET stream");

    const answers = await Promise.all(
      names.map(async (name, i) => {
        const response = await raw.post({ jsonrpc: "2.0", id: 100 + i, method: "tools/call", params: { name: "open_nodes", arguments: { names: [name] } } });
        expect(response.headers.get("content-type")).toBe("application/json");
        return body(response);
      }),
    );
    answers.forEach((answer, i) => {
      expect(answer.id).toBe(100 + i);
      expect(answer.result.structuredContent.entities[0].name).toBe(names[i]);
    });

    await reader.cancel();
    await fetch(raw.url, { method: "DELETE", headers: raw.headers });
    expect((await raw.post({ jsonrpc: "2.0", id: 9, method: "ping" })).status).toBe(404);
    await writer.close();
  }, 60_000);
});
