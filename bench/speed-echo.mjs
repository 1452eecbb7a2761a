// A stdio MCP server that does no work at all (answers initialize and every tool call at once), run under Bun like
// `msm proxy`: a Node SDK client's round trip to it is the stdio floor of any Bun process in an editor's place.
const write = (message) => process.stdout.write(JSON.stringify(message) + "\n");
let buffer = "";
for await (const chunk of process.stdin) {
  buffer += chunk.toString();
  for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
    const message = JSON.parse(buffer.slice(0, nl));
    buffer = buffer.slice(nl + 1);
    if (message.id === undefined) continue;
    if (message.method === "initialize") {
      write({
        jsonrpc: "2.0",
        id: message.id,
        result: { protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "echo", version: "1" } },
      });
    } else if (message.method === "tools/call") {
      write({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: "{}" }] } });
    } else write({ jsonrpc: "2.0", id: message.id, result: {} });
  }
}
