// A stdio MCP server for bench/hosted.bench.ts, run by `node`, written without an SDK: `small` answers at once with a
// few bytes, `big {mb}` with one text of that many MB (one JSON line of 50 MB by default). What the bench measures is
// how long the other sessions of the same host wait while such an answer passes through it.
import { createInterface } from "node:readline";

// The TypeScript SDK's order, the answer's id last: a host must read all of it before it knows whose it is.
const out = ({ id, ...rest }) => process.stdout.write(`${JSON.stringify({ ...rest, jsonrpc: "2.0", id })}\n`);
const text = (value) => ({ content: [{ type: "text", text: value }] });
const tools = [
  { name: "small", inputSchema: { type: "object", properties: {} } },
  { name: "big", inputSchema: { type: "object", properties: { mb: { type: "number" } } } },
];
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const { id, method, params = {} } = JSON.parse(line);
  if (id === undefined) continue;
  if (method === "initialize") {
    out({ id, result: { protocolVersion: params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "big", version: "1" } } });
  } else if (method === "tools/list") out({ id, result: { tools } });
  else if (method === "tools/call" && params.name === "big") out({ id, result: text("x".repeat(Math.round((params.arguments?.mb ?? 50) * 1e6))) });
  else if (method === "tools/call") out({ id, result: text("small") });
  else if (method === "ping") out({ id, result: {} });
  else out({ id, error: { code: -32601, message: "Method not found" } });
}
