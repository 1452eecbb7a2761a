// The memory tools — names, schemas, size limits, handlers — apart from the MCP server that registers them
// (server.ts), so a database's worker thread can answer a call with the very same code without loading the SDK
// (worker-calls.ts). Order matters: tools/list lists them in this order, the nine official tools first.
import { z, type ZodRawShape } from "zod";
import type { Graph, GraphSource } from "../types.ts";
import {
  EntitySchema,
  GraphError,
  KnowledgeGraphShape,
  ObservationAddResultSchema,
  ObservationAddSchema,
  ObservationDeleteSchema,
  RelationSchema,
} from "../types.ts";
import { RECALL_DEFAULT_LIMIT, RECALL_MAX_LIMIT } from "../recall.ts";

const GraphShape = KnowledgeGraphShape;
const StatusShape = { success: z.boolean(), message: z.string() };

// Optional paging, additive to the official schemas: without it an answer is exactly the official one.
const PageShape = {
  limit: z.number().int().min(1).optional().describe("Return at most this many entities (default: all)"),
  offset: z.number().int().min(0).optional().describe("Skip this many entities first (default: 0)"),
};

const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const DELETE = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };
const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** Sizes one call may not exceed: a tool error naming the limit beats a database stalled on a giant write. */
export const MAX_NAME_BYTES = 4 * 1024;
export const MAX_OBSERVATION_BYTES = 8 * 1024 * 1024;
export const MAX_CALL_BYTES = 32 * 1024 * 1024;
/** Argument keys whose strings are observations (everything else is a name, a type or a query). */
const OBSERVATION_KEYS = new Set(["observations", "contents"]);

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, "")} MiB` : `${(bytes / 1024).toFixed(1).replace(/\.0$/, "")} KiB`;
}

/** Throws a GraphError (a tool error the editor shows) when a string or the whole call is over its limit. */
export function withinLimits<T>(args: T): T {
  let total = 0;
  const visit = (value: unknown, path: string, observation: boolean): void => {
    if (typeof value === "string") {
      const bytes = Buffer.byteLength(value);
      total += bytes;
      const limit = observation ? MAX_OBSERVATION_BYTES : MAX_NAME_BYTES;
      if (bytes > limit) {
        const what = observation ? "one observation" : "a name, type or query";
        throw new GraphError(`${path} is ${mib(bytes)}; the limit for ${what} is ${mib(limit)}. Split it, or store a reference to it instead.`);
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        visit(item, `${path}[${i}]`, observation);
      });
    } else if (value && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) visit(item, path ? `${path}.${key}` : key, observation || OBSERVATION_KEYS.has(key));
    }
  };
  visit(args, "", false);
  if (total > MAX_CALL_BYTES)
    throw new GraphError(`this call carries ${mib(total)} of text; the limit for one call is ${mib(MAX_CALL_BYTES)}. Split it into several calls.`);
  return args;
}

function json(value: unknown): { type: "text"; text: string }[] {
  return [{ type: "text", text: JSON.stringify(value, null, 2) }];
}

function done(message: string) {
  return { content: [{ type: "text" as const, text: message }], structuredContent: { success: true, message } };
}

/** What a tool's handler works with: the request's graph, and `mutate` for writes (it tells subscribers). */
export interface ToolContext {
  databases: GraphSource;
  mutate<T>(fn: (store: Graph) => T | Promise<T>): Promise<T>;
}

/** A tool's answer: the official server's pretty JSON text, plus the same data as structuredContent. */
export interface ToolResult {
  content: { type: "text"; text: string }[];
  structuredContent: Record<string, unknown>;
}

export interface ToolConfig<In extends ZodRawShape, Out extends ZodRawShape> {
  title: string;
  description: string;
  inputSchema: In;
  outputSchema: Out;
  annotations: { readOnlyHint: boolean; destructiveHint: boolean; idempotentHint: boolean; openWorldHint: boolean };
}

export interface MemoryTool {
  name: string;
  config: ToolConfig<ZodRawShape, ZodRawShape>;
  /** `args` as the input schema parsed them. */
  run(args: unknown, ctx: ToolContext): Promise<ToolResult>;
}

/** Shaped like McpServer.registerTool, so each tool reads as it is registered. */
function defineTool<In extends ZodRawShape, Out extends ZodRawShape>(
  name: string,
  config: ToolConfig<In, Out>,
  run: (args: z.output<z.ZodObject<In>>, ctx: ToolContext) => Promise<ToolResult>,
): MemoryTool {
  return { name, config, run: run as MemoryTool["run"] };
}

export const TOOLS: MemoryTool[] = [
  defineTool(
    "create_entities",
    {
      title: "Create Entities",
      description: "Create multiple new entities in the knowledge graph",
      inputSchema: { entities: z.array(EntitySchema) },
      outputSchema: { entities: z.array(EntitySchema) },
      annotations: WRITE,
    },
    async (args, ctx) => {
      const { entities } = withinLimits(args);
      const result = await ctx.mutate((s) => s.createEntities(entities));
      return { content: json(result), structuredContent: { entities: result } };
    },
  ),
  defineTool(
    "create_relations",
    {
      title: "Create Relations",
      description: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice",
      inputSchema: { relations: z.array(RelationSchema) },
      outputSchema: { relations: z.array(RelationSchema) },
      annotations: WRITE,
    },
    async (args, ctx) => {
      const { relations } = withinLimits(args);
      const result = await ctx.mutate((s) => s.createRelations(relations));
      return { content: json(result), structuredContent: { relations: result } };
    },
  ),
  defineTool(
    "add_observations",
    {
      title: "Add Observations",
      description: "Add new observations to existing entities in the knowledge graph",
      inputSchema: { observations: z.array(ObservationAddSchema) },
      outputSchema: { results: z.array(ObservationAddResultSchema) },
      annotations: WRITE,
    },
    async (args, ctx) => {
      const { observations } = withinLimits(args);
      const result = await ctx.mutate((s) => s.addObservations(observations));
      return { content: json(result), structuredContent: { results: result } };
    },
  ),
  defineTool(
    "delete_entities",
    {
      title: "Delete Entities",
      description: "Delete multiple entities and their associated relations from the knowledge graph",
      inputSchema: { entityNames: z.array(z.string()).describe("An array of entity names to delete") },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async (args, ctx) => {
      const { entityNames } = withinLimits(args);
      await ctx.mutate((s) => s.deleteEntities(entityNames));
      return done("Entities deleted successfully");
    },
  ),
  defineTool(
    "delete_observations",
    {
      title: "Delete Observations",
      description: "Delete specific observations from entities in the knowledge graph",
      inputSchema: { deletions: z.array(ObservationDeleteSchema) },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async (args, ctx) => {
      const { deletions } = withinLimits(args);
      await ctx.mutate((s) => s.deleteObservations(deletions));
      return done("Observations deleted successfully");
    },
  ),
  defineTool(
    "delete_relations",
    {
      title: "Delete Relations",
      description: "Delete multiple relations from the knowledge graph",
      inputSchema: { relations: z.array(RelationSchema).describe("An array of relations to delete") },
      outputSchema: StatusShape,
      annotations: DELETE,
    },
    async (args, ctx) => {
      const { relations } = withinLimits(args);
      await ctx.mutate((s) => s.deleteRelations(relations));
      return done("Relations deleted successfully");
    },
  ),
  defineTool(
    "read_graph",
    {
      title: "Read Graph",
      description: "Read the entire knowledge graph",
      inputSchema: PageShape,
      outputSchema: GraphShape,
      annotations: READ,
    },
    async (args, ctx) => {
      const { limit, offset } = withinLimits(args);
      const graph = await ctx.databases.current().readGraph({ limit, offset });
      return { content: json(graph), structuredContent: { ...graph } };
    },
  ),
  defineTool(
    "search_nodes",
    {
      title: "Search Nodes",
      description: "Search for nodes in the knowledge graph based on a query",
      inputSchema: {
        query: z.string().describe("The search query to match against entity names, types, and observation content"),
        ...PageShape,
      },
      outputSchema: GraphShape,
      annotations: READ,
    },
    async (args, ctx) => {
      const { query, limit, offset } = withinLimits(args);
      const graph = await ctx.databases.current().searchNodes(query, { limit, offset });
      return { content: json(graph), structuredContent: { ...graph } };
    },
  ),
  defineTool(
    "open_nodes",
    {
      title: "Open Nodes",
      description: "Open specific nodes in the knowledge graph by their names",
      inputSchema: { names: z.array(z.string()).describe("An array of entity names to retrieve") },
      outputSchema: GraphShape,
      annotations: READ,
    },
    async (args, ctx) => {
      const { names } = withinLimits(args);
      const graph = await ctx.databases.current().openNodes(names);
      return { content: json(graph), structuredContent: { ...graph } };
    },
  ),
  // Tools the official server lacks. Additive only: the nine official tools keep their names, schemas and answers.
  defineTool(
    "memory_stats",
    {
      title: "Memory Stats",
      description:
        "Where the knowledge graph is stored, why there, and how big it is: backend (sqlite or postgres), database path or server, scope (project or home) and the reason, the project id in a shared PostgreSQL database and how it was found, entity, observation and relation counts, bytes on disk",
      inputSchema: {},
      outputSchema: {
        database: z.string(),
        scope: z.enum(["project", "home"]),
        why: z.string(),
        entities: z.number(),
        observations: z.number(),
        relations: z.number(),
        bytes: z.number(),
        backend: z.enum(["sqlite", "postgres"]),
        projectId: z.string().optional().describe("PostgreSQL: the project's id in the shared database"),
        projectIdSource: z.enum(["git-origin", "msm.json", "path", "home"]).optional().describe("PostgreSQL: how the project id was found"),
      },
      annotations: READ,
    },
    async (_args, ctx) => {
      const { store, choice } = ctx.databases.currentWithChoice();
      const stats = {
        ...(await store.stats()),
        scope: choice.scope,
        why: choice.why,
        backend: choice.backend,
        projectId: choice.projectId,
        projectIdSource: choice.projectIdSource,
      };
      return { content: json(stats), structuredContent: stats };
    },
  ),
  defineTool(
    "rename_entity",
    {
      title: "Rename Entity",
      description: "Rename an entity; relations from or to it follow the new name",
      inputSchema: {
        oldName: z.string().describe("The current name of the entity"),
        newName: z.string().describe("The new name; no other entity may have it"),
      },
      outputSchema: EntitySchema.shape,
      annotations: WRITE,
    },
    async (args, ctx) => {
      const { oldName, newName } = withinLimits(args);
      const entity = await ctx.mutate((s) => s.renameEntity(oldName, newName));
      return { content: json(entity), structuredContent: { ...entity } };
    },
  ),
  defineTool(
    "merge_entities",
    {
      title: "Merge Entities",
      description:
        "Merge duplicate entities into one: the sources' observations are added to the target, their relations are moved to it, and the sources are deleted",
      inputSchema: {
        sources: z.array(z.string()).describe("Names of the entities to fold into the target"),
        target: z.string().describe("Name of the entity that remains"),
      },
      outputSchema: EntitySchema.shape,
      annotations: { ...WRITE, destructiveHint: true },
    },
    async (args, ctx) => {
      const { sources, target } = withinLimits(args);
      const entity = await ctx.mutate((s) => s.mergeEntities(sources, target));
      return { content: json(entity), structuredContent: { ...entity } };
    },
  ),
  defineTool(
    "entity_details",
    {
      title: "Entity Details",
      description: "One entity with its observations, when it was created and last updated, and how many relations start and end at it",
      inputSchema: { name: z.string().describe("The name of the entity") },
      outputSchema: {
        ...EntitySchema.shape,
        createdAt: z.string().describe("ISO time the entity was created"),
        updatedAt: z.string().describe("ISO time its observations or name last changed"),
        outgoingRelations: z.number(),
        incomingRelations: z.number(),
      },
      annotations: READ,
    },
    async (args, ctx) => {
      const { name } = withinLimits(args);
      const details = await ctx.databases.current().entityDetails(name);
      if (!details) throw new GraphError(`Entity with name ${name} not found`);
      const out = { ...details, createdAt: new Date(details.createdAt).toISOString(), updatedAt: new Date(details.updatedAt).toISOString() };
      return { content: json(out), structuredContent: out };
    },
  ),
  defineTool(
    "node_relations",
    {
      title: "Node Relations",
      description: "The relations starting and/or ending at one node, in creation order, optionally paged (for nodes with many relations)",
      inputSchema: {
        name: z.string().describe("The name of the node"),
        direction: z.enum(["outgoing", "incoming", "both"]).optional().describe("Which relations: outgoing (from it), incoming (to it) or both (default)"),
        ...PageShape,
      },
      outputSchema: { relations: z.array(RelationSchema) },
      annotations: READ,
    },
    async (args, ctx) => {
      const { name, direction, limit, offset } = withinLimits(args);
      const relations = await ctx.databases.current().nodeRelations(name, direction ?? "both", { limit, offset });
      return { content: json(relations), structuredContent: { relations } };
    },
  ),
  defineTool(
    "recall",
    {
      title: "Recall",
      description:
        "Find the observations that best answer a question or topic asked in words (search_nodes matches the query as one exact substring; recall ranks by the words: stemmed, stopwords ignored, entity names and types count, and observations written next to a match rank with it). Returns observations best first with their entity, its type and a score",
      inputSchema: {
        query: z.string().describe("What to recall, in words: a question, a topic or keywords"),
        limit: z
          .number()
          .int()
          .min(1)
          .max(RECALL_MAX_LIMIT)
          .optional()
          .describe(`Return at most this many observations (default ${RECALL_DEFAULT_LIMIT}, at most ${RECALL_MAX_LIMIT})`),
        entityTypes: z.array(z.string()).optional().describe("Only observations of entities of these types (case-insensitive)"),
      },
      outputSchema: {
        results: z.array(
          z.object({
            entity: z.string().describe("The name of the entity the observation belongs to"),
            entityType: z.string().describe("The type of that entity"),
            observation: z.string().describe("The observation"),
            score: z.number().describe("Relevance: higher is better; comparable within one answer only"),
          }),
        ),
      },
      annotations: READ,
    },
    async (args, ctx) => {
      const { query, limit, entityTypes } = withinLimits(args);
      const results = await ctx.databases.current().recall(query, { limit, entityTypes });
      return { content: json({ results }), structuredContent: { results } };
    },
  ),
];
