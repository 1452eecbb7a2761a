// The editor side of `bench/speed.bench.ts`, run under Node as editors run their MCP clients: the MCP SDK's stdio
// client spawns one server command and times tool calls, one at a time. Input: a JSON plan as argv[2]; output: one
// JSON line of results on stdout. Plain JavaScript so Node runs it without a TypeScript loader.
// With `plan.url` it instead talks HTTP straight to a daemon with the runtime's own fetch (the breakdown rows).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { connect } from "node:net";

const plan = JSON.parse(process.argv[2]);
if (plan.url) {
  process.stdout.write(JSON.stringify(await direct(plan)) + "\n");
  process.exit(0);
}
const transport = new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, cwd: plan.cwd, stderr: "ignore" });
const client = new Client({ name: "msm-speed-bench", version: "1.0.0" });
await client.connect(transport);

const results = {};
try {
  for (const step of plan.steps) {
    const call = () => client.callTool({ name: step.tool, arguments: step.arguments }, undefined, { timeout: 600_000 });
    let last;
    for (let i = 0; i < (step.warmup ?? 0); i++) last = await call();
    const times = [];
    for (let i = 0; i < (step.samples ?? 0); i++) {
      const start = performance.now();
      last = await call();
      times.push(performance.now() - start);
    }
    if (step.samples === 0 || step.samples === undefined) last = await call();
    if (last?.isError) throw new Error(`${step.tool}: ${JSON.stringify(last.content).slice(0, 300)}`);
    const entities = last?.structuredContent?.entities;
    results[step.label] = { times, matches: Array.isArray(entities) ? entities.map((e) => e.name).sort() : undefined };
  }
} finally {
  await client.close();
}
process.stdout.write(JSON.stringify(results) + "\n");

/**
 * Raw MCP over HTTP to one daemon: initialize, then `samples` sequential tools/call POSTs with fetch, as many GET
 * /health, and as many tools/call POSTs on one kept-alive raw connection (what the proxy does).
 */
async function direct({ url, token, project, step, wire }) {
  const headers = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-project-path": project,
  };
  const post = async (body) => {
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    const text = await response.text();
    return { response, text };
  };
  const init = await post({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  });
  headers["mcp-session-id"] = init.response.headers.get("mcp-session-id");
  headers["mcp-protocol-version"] = "2025-06-18";
  await post({ jsonrpc: "2.0", method: "notifications/initialized" });
  let id = 1;
  const time = async (fn) => {
    for (let i = 0; i < step.warmup; i++) await fn();
    const times = [];
    for (let i = 0; i < step.samples; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    return times;
  };
  let contentType;
  const call = await time(async () => {
    const { response } = await post({ jsonrpc: "2.0", id: id++, method: "tools/call", params: { name: step.tool, arguments: step.arguments } });
    contentType = response.headers.get("content-type");
  });
  const health = await time(() => fetch(url.replace(/\/mcp$/, "/health")).then((r) => r.text()));
  // The proxy's own path: one kept-alive raw HTTP/1.1 connection (src/proxy/loopback.ts).
  const { hostname, port, pathname, host } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), noDelay: true });
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let buffered = "";
  let answered = () => {};
  socket.on("data", (chunk) => {
    buffered += chunk.toString("latin1");
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = /content-length: *(\d+)/i.exec(buffered.slice(0, end));
    if (length ? buffered.length - end - 4 >= Number(length[1]) : buffered.endsWith("\r\n0\r\n\r\n")) {
      buffered = "";
      answered();
    }
  });
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const raw = await time(
    () =>
      new Promise((resolve) => {
        answered = resolve;
        const body = JSON.stringify({ jsonrpc: "2.0", id: id++, method: "tools/call", params: { name: step.tool, arguments: step.arguments } });
        socket.write(`POST ${pathname} HTTP/1.1\r\nhost: ${host}\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }),
  );
  socket.destroy();
  await fetch(url, { method: "DELETE", headers }).catch(() => {});
  const line = wire?.startsWith("unix:") ? await overWire(wire.slice(5), token, project, step, time) : undefined;
  return { call, health, raw, contentType, line };
}

/** The line wire (src/lib/contracts/wire.ts): hello, initialize, then tools/call lines on one connection. */
async function overWire(path, token, project, step, time) {
  const socket = connect({ path });
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let buffered = "";
  let answered = () => {};
  socket.on("data", (chunk) => {
    buffered += chunk.toString("utf8");
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      buffered = buffered.slice(nl + 1);
      answered();
    }
  });
  const exchange = (line) =>
    new Promise((resolve) => {
      answered = resolve;
      socket.write(`${line}\n`);
    });
  await exchange(JSON.stringify({ msm: "hello", v: 1, token, project }));
  await exchange(
    JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
    }),
  );
  socket.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  let id = 1;
  const times = await time(() =>
    exchange(JSON.stringify({ jsonrpc: "2.0", id: id++, method: "tools/call", params: { name: step.tool, arguments: step.arguments } })),
  );
  socket.destroy();
  return times;
}
