import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Graph, GraphSource } from "../types.ts";
import { TOOLS, type ToolContext } from "./tools.ts";
import { GraphError } from "../types.ts";
import { VERSION } from "../../lib/version.ts";

export const GRAPH_URI = "memory://knowledge-graph";

/** Lets one session's write reach every session subscribed to the same database. */
export class Subscriptions {
  private readonly byServer = new Map<McpServer, string | undefined>();

  watch(server: McpServer, file: string | undefined): void {
    this.byServer.set(server, file);
  }
  forget(server: McpServer): void {
    this.byServer.delete(server);
  }
  changed(file: string): void {
    for (const [server, watched] of this.byServer) {
      if (watched === file) server.server.sendResourceUpdated({ uri: GRAPH_URI }).catch(() => {});
    }
  }
}

/** One MCP server per session; all of them share the open databases. */
export function createMemoryServer(databases: GraphSource, subscriptions: Subscriptions): McpServer {
  const server = new McpServer({ name: "memory-server", version: VERSION });

  const mutate = async <T>(fn: (store: Graph) => T | Promise<T>): Promise<T> => {
    const store = databases.current();
    const result = await fn(store);
    subscriptions.changed(store.file);
    return result;
  };
  const ctx: ToolContext = { databases, mutate };
  // The same table a database's worker thread answers calls from (worker-calls.ts).
  for (const tool of TOOLS) server.registerTool(tool.name, tool.config, (args: unknown) => tool.run(args, ctx) as Promise<CallToolResult>);

  server.registerResource(
    "knowledge-graph",
    GRAPH_URI,
    {
      title: "Knowledge Graph",
      description: "The full knowledge graph with all entities and relations",
      mimeType: "application/json",
    },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(await databases.current().readGraph(), null, 2) }],
    }),
  );

  cacheToolList(server);
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    if (request.params.uri !== GRAPH_URI) return {};
    const store = databases.current();
    subscriptions.watch(server, store.file);
    // On a shared database, also hear other machines' writes. If the server cannot be reached right now, the session
    // still hears this daemon's writes, and the next subscribe tries again.
    await databases.follow?.(store, () => subscriptions.changed(store.file)).catch(() => {});
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    if (request.params.uri === GRAPH_URI) subscriptions.forget(server);
    return {};
  });

  return server;
}

/**
 * Every session lists the same tools, yet McpServer turns each tool's zod schemas into JSON Schema again on every
 * tools/list (over a millisecond for msm's fifteen). The first answer is kept for the life of the process. Reaches
 * into the SDK's handler table; should that ever move, tools/list just stays uncached.
 */
let toolList: Promise<unknown> | undefined;
function cacheToolList(server: McpServer): void {
  type Handler = (request: unknown, extra: unknown) => Promise<unknown>;
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, Handler> })._requestHandlers;
  const original = handlers?.get("tools/list");
  if (!handlers || !original) return;
  handlers.set("tools/list", (request, extra) => {
    toolList ??= original(request, extra).catch((error) => {
      toolList = undefined;
      throw error;
    });
    return toolList;
  });
}

export { GraphError };
