import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Databases } from "./databases.ts";
import { GraphError, type GraphStore } from "./store.ts";
import { VERSION } from "../lib/version.ts";

export const GRAPH_URI = "memory://knowledge-graph";

// Same property names, descriptions and required fields as @modelcontextprotocol/server-memory.
const EntitySchema = z.object({
  name: z.string().describe("The name of the entity"),
  entityType: z.string().describe("The type of the entity"),
  observations: z.array(z.string()).describe("An array of observation contents associated with the entity"),
});
const RelationSchema = z.object({
  from: z.string().describe("The name of the entity where the relation starts"),
  to: z.string().describe("The name of the entity where the relation ends"),
  relationType: z.string().describe("The type of the relation"),
});
const GraphShape = { entities: z.array(EntitySchema), relations: z.array(RelationSchema) };
const StatusShape = { success: z.boolean(), message: z.string() };

const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const DELETE = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };
const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

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

function json(value: unknown): { type: "text"; text: string }[] {
  return [{ type: "text", text: JSON.stringify(value, null, 2) }];
}

/** One MCP server per session; all of them share the open databases. */
export function createMemoryServer(databases: Databases, subscriptions: Subscriptions): McpServer {
  const server = new McpServer({ name: "memory-server", version: VERSION });

  const mutate = <T>(fn: (store: GraphStore) => T): T => {
    const store = databases.current();
    const result = fn(store);
    subscriptions.changed(store.file);
    return result;
  };

  server.registerTool(
    "create_entities",
    {
      title: "Create Entities",
      description: "Create multiple new entities in the knowledge graph",
      inputSchema: { entities: z.array(EntitySchema) },
      outputSchema: { entities: z.array(EntitySchema) },
      annotations: WRITE,
    },
    async ({ entities }) => {
      const result = mutate((s) => s.createEntities(entities));
      return { content: json(result), structuredContent: { entities: result } };
    },
  );

  server.registerTool(
    "create_relations",
    {
      title: "Create Relations",
      description: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice",
      inputSchema: { relations: z.array(RelationSchema) },
      outputSchema: { relations: z.array(RelationSchema) },
      annotations: WRITE,
    },
    async ({ relations }) => {
      const result = mutate((s) => s.createRelations(relations));
      return { content: json(result), structuredContent: { relations: result } };
    },
  );

  server.registerTool(
    "add_observations",
    {
      title: "Add Observations",
      description: "Add new observations to existing entities in the knowledge graph",
      inputSchema: {
        observations: z.array(
          z.object({
            entityName: z.string().describe("The name of the entity to add the observations to"),
            contents: z.array(z.string()).describe("An array of observation contents to add"),
          }),
        ),
      },
      outputSchema: {
        results: z.array(z.object({ entityName: z.string(), addedObservations: z.array(z.string()) })),
      },
      annotations: WRITE,
    },
    async ({ observations }) => {
      const result = mutate((s) => s.addObservations(observations));
      return { content: json(result), structuredContent: { results: result } };
    },
  );

  server.registerTool(
    "delete_entities",
    {
      title: "Delete Entities",
      description: "Delete multiple entities and their associated relations from the knowledge graph",
      inputSchema: { entityNames: z.array(z.string()).describe("An array of entity names to delete") },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async ({ entityNames }) => {
      mutate((s) => s.deleteEntities(entityNames));
      return done("Entities deleted successfully");
    },
  );

  server.registerTool(
    "delete_observations",
    {
      title: "Delete Observations",
      description: "Delete specific observations from entities in the knowledge graph",
      inputSchema: {
        deletions: z.array(
          z.object({
            entityName: z.string().describe("The name of the entity containing the observations"),
            observations: z.array(z.string()).describe("An array of observations to delete"),
          }),
        ),
      },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async ({ deletions }) => {
      mutate((s) => s.deleteObservations(deletions));
      return done("Observations deleted successfully");
    },
  );

  server.registerTool(
    "delete_relations",
    {
      title: "Delete Relations",
      description: "Delete multiple relations from the knowledge graph",
      inputSchema: { relations: z.array(RelationSchema).describe("An array of relations to delete") },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async ({ relations }) => {
      mutate((s) => s.deleteRelations(relations));
      return done("Relations deleted successfully");
    },
  );

  server.registerTool(
    "read_graph",
    {
      title: "Read Graph",
      description: "Read the entire knowledge graph",
      inputSchema: {},
      outputSchema: GraphShape,
      annotations: READ,
    },
    async () => {
      const graph = databases.current().readGraph();
      return { content: json(graph), structuredContent: { ...graph } };
    },
  );

  server.registerTool(
    "search_nodes",
    {
      title: "Search Nodes",
      description: "Search for nodes in the knowledge graph based on a query",
      inputSchema: {
        query: z.string().describe("The search query to match against entity names, types, and observation content"),
      },
      outputSchema: GraphShape,
      annotations: READ,
    },
    async ({ query }) => {
      const graph = databases.current().searchNodes(query);
      return { content: json(graph), structuredContent: { ...graph } };
    },
  );

  server.registerTool(
    "open_nodes",
    {
      title: "Open Nodes",
      description: "Open specific nodes in the knowledge graph by their names",
      inputSchema: { names: z.array(z.string()).describe("An array of entity names to retrieve") },
      outputSchema: GraphShape,
      annotations: READ,
    },
    async ({ names }) => {
      const graph = databases.current().openNodes(names);
      return { content: json(graph), structuredContent: { ...graph } };
    },
  );

  server.registerResource(
    "knowledge-graph",
    GRAPH_URI,
    {
      title: "Knowledge Graph",
      description: "The full knowledge graph with all entities and relations",
      mimeType: "application/json",
    },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(databases.current().readGraph(), null, 2) }],
    }),
  );

  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    if (request.params.uri === GRAPH_URI) subscriptions.watch(server, databases.current().file);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    if (request.params.uri === GRAPH_URI) subscriptions.forget(server);
    return {};
  });

  return server;
}

function done(message: string) {
  return { content: [{ type: "text" as const, text: message }], structuredContent: { success: true, message } };
}

export { GraphError };
