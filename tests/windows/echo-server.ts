// A minimal stdio MCP server for the Windows smoke test, started by msm's stdio host through a .cmd shim (as npx is):
// its one tool, `argv`, answers the arguments it was started with, so run.ts can see that `100%` and `quote"inside`
// arrived intact. Plain JSON-RPC lines, no SDK: it runs under the Windows bun.exe inside Wine.
const argv = process.argv.slice(2);
const send = (message: object) => process.stdout.write(JSON.stringify(message) + "\n");
let buffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  buffer += chunk;
  let newline: number;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, newline).trim();
    buffer = buffer.slice(newline + 1);
    if (!line) continue;
    const message = JSON.parse(line) as { id?: number | string; method?: string; params?: { protocolVersion?: string } };
    if (message.id === undefined || !message.method) continue;
    if (message.method === "initialize") {
      send({ jsonrpc: "2.0", id: message.id, result: { protocolVersion: message.params?.protocolVersion ?? "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "echo-argv", version: "1.0.0" } } });
    } else if (message.method === "tools/list") {
      send({ jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "argv", description: "The arguments this server was started with", inputSchema: { type: "object" } }] } });
    } else if (message.method === "tools/call") {
      send({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: JSON.stringify(argv) }], structuredContent: { argv, cwd: process.cwd() } } });
    } else {
      send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `no method ${message.method}` } });
    }
  }
});
process.stdin.on("end", () => process.exit(0));
