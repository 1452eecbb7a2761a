// A plain-JSON MCP endpoint on loopback (port 0) that answers every tools/call with the same large text, and the raw
// stdio opening of a session through `msm proxy --url`: the proxy's own output path, with no daemon in between.
import type { FileSink } from "bun";

export interface BigAnswers {
  port: number;
  /** tools/call requests answered so far. */
  answered(): number;
  stop(): void;
}

export function bigAnswerServer(text: string): BigAnswers {
  let answered = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      if (request.method !== "POST") return new Response(null, { status: 405 });
      const message = (await request.json()) as { id?: number; method: string };
      if (message.id === undefined) return new Response(null, { status: 202 });
      if (message.method === "initialize") {
        const result = { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "big", version: "1" } };
        return Response.json({ jsonrpc: "2.0", id: message.id, result });
      }
      answered++;
      return Response.json({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text }] } });
    },
  });
  return { port: server.port ?? 0, answered: () => answered, stop: () => server.stop(true) };
}

/** Writes initialize, initialized and tools/call requests with ids `from`…`to` to a proxy's stdin. */
export function openAndCall(proxy: { stdin: FileSink }, from: number, to: number): void {
  const init = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  };
  proxy.stdin.write(`${JSON.stringify(init)}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  for (let id = from; id <= to; id++)
    proxy.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "big", arguments: {} } })}\n`);
}
