// The 2026-07-28 headers the proxy derives from a message body (SEP-2243), and that earlier revisions get none.
import { describe, expect, test } from "bun:test";
import { encodeHeaderValue, revisionHeaders, scanDeclarations, ToolHeaders } from "../../src/proxy/revision.ts";

const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "ed", version: "1" } };

describe("revision headers", () => {
  test("a message without an envelope (every earlier revision) gets no 2026 header", () => {
    const tools = new ToolHeaders();
    expect(revisionHeaders({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } }, tools)).toEqual({});
    expect(revisionHeaders({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25" } }, tools)).toEqual({});
    expect(revisionHeaders({ jsonrpc: "2.0", method: "notifications/initialized" }, tools)).toEqual({});
  });

  test("version, method and name come from the body; Mcp-Name mirrors name, uri or taskId per method", () => {
    const tools = new ToolHeaders();
    expect(revisionHeaders({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta } }, tools)).toEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "server/discover",
    });
    expect(revisionHeaders({ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "file:///a b", _meta: meta } }, tools)["mcp-name"]).toBe(
      "file:///a b",
    );
    expect(revisionHeaders({ jsonrpc: "2.0", id: 3, method: "tasks/get", params: { taskId: "t1", _meta: meta } }, tools)["mcp-name"]).toBe("t1");
    expect(revisionHeaders({ jsonrpc: "2.0", id: 4, method: "tools/list", params: { _meta: meta } }, tools)["mcp-name"]).toBeUndefined();
  });

  test("values that are not plain visible ASCII (or look like the sentinel) are base64 in the sentinel", () => {
    expect(encodeHeaderValue("plain-value 1")).toBe("plain-value 1");
    expect(encodeHeaderValue("Zürich")).toBe(`=?base64?${Buffer.from("Zürich").toString("base64")}?=`);
    expect(encodeHeaderValue(" padded")).toStartWith("=?base64?");
    expect(encodeHeaderValue("")).toStartWith("=?base64?");
    expect(encodeHeaderValue("=?base64?abc?=")).toBe(`=?base64?${Buffer.from("=?base64?abc?=").toString("base64")}?=`);
  });

  test("Mcp-Param-* headers follow the x-mcp-header declarations learned from tools/list", () => {
    const tools = new ToolHeaders();
    tools.learn({
      tools: [
        {
          name: "deploy",
          inputSchema: {
            type: "object",
            properties: {
              region: { type: "string", "x-mcp-header": "Region" },
              opts: { type: "object", properties: { dry: { type: "boolean", "x-mcp-header": "Dry-Run" }, n: { type: "integer", "x-mcp-header": "N" } } },
              list: { type: "array", items: { type: "string" } },
            },
          },
        },
      ],
    });
    const call = (args: unknown) =>
      revisionHeaders({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "deploy", arguments: args, _meta: meta } }, tools);
    const headers = call({ region: "eu", opts: { dry: false, n: 3 }, list: ["x"] });
    expect(headers["mcp-param-region"]).toBe("eu");
    expect(headers["mcp-param-dry-run"]).toBe("false");
    expect(headers["mcp-param-n"]).toBe("3");
    expect(headers["mcp-param-nope"]).toBeUndefined();
    // Absent or null arguments send no header; an unknown tool sends none.
    expect(Object.keys(call({ region: null })).filter((k) => k.startsWith("mcp-param-"))).toEqual([]);
    expect(
      Object.keys(
        revisionHeaders({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "other", arguments: { region: "x" }, _meta: meta } }, tools),
      ).filter((k) => k.startsWith("mcp-param-")),
    ).toEqual([]);
  });

  test("tools with invalid x-mcp-header declarations are left out of a 2026-07-28 tools/list, kept otherwise", () => {
    const prop = (extra: object) => ({ type: "object", properties: { p: { type: "string", ...extra } } });
    expect(scanDeclarations(prop({ "x-mcp-header": "Ok" }))).toEqual([{ path: ["p"], header: "Ok" }]);
    expect(scanDeclarations(prop({ "x-mcp-header": "" }))).toBeUndefined();
    expect(scanDeclarations(prop({ "x-mcp-header": "has space" }))).toBeUndefined();
    expect(scanDeclarations({ type: "object", properties: { n: { type: "number", "x-mcp-header": "N" } } })).toBeUndefined();
    expect(
      scanDeclarations({ type: "object", properties: { a: { type: "string", "x-mcp-header": "X" }, b: { type: "string", "x-mcp-header": "x" } } }),
    ).toBeUndefined();
    expect(scanDeclarations({ type: "object", properties: { l: { type: "array", items: { type: "string", "x-mcp-header": "L" } } } })).toBeUndefined();
    const result = () => ({
      tools: [
        { name: "good", inputSchema: prop({ "x-mcp-header": "Ok" }) },
        { name: "bad", inputSchema: prop({ "x-mcp-header": "" }) },
      ],
    });
    const modern = result();
    expect(new ToolHeaders().learn(modern, true)).toEqual(["bad"]);
    expect(modern.tools.map((t) => t.name)).toEqual(["good"]);
    const legacy = result();
    expect(new ToolHeaders().learn(legacy)).toEqual([]);
    expect(legacy.tools.map((t) => t.name)).toEqual(["good", "bad"]);
  });
});
