import { z } from "zod";
import type { ProjectIdentity } from "./postgres/project-id.ts";
import type { RecallOptions, RecallResult } from "./recall.ts";

// Same property names, descriptions and required fields as @modelcontextprotocol/server-memory 2026.8.31: clients
// that learned the official tools' schemas must see the same ones here.

export const EntitySchema = z.object({
  name: z.string().describe("The name of the entity"),
  entityType: z.string().describe("The type of the entity"),
  observations: z.array(z.string()).describe("An array of observation contents associated with the entity"),
});
export type Entity = z.infer<typeof EntitySchema>;

export const RelationSchema = z.object({
  from: z.string().describe("The name of the entity where the relation starts"),
  to: z.string().describe("The name of the entity where the relation ends"),
  relationType: z.string().describe("The type of the relation"),
});
export type Relation = z.infer<typeof RelationSchema>;

export const KnowledgeGraphShape = { entities: z.array(EntitySchema), relations: z.array(RelationSchema) };
export interface KnowledgeGraph {
  entities: Entity[];
  relations: Relation[];
}

export const ObservationAddSchema = z.object({
  entityName: z.string().describe("The name of the entity to add the observations to"),
  contents: z.array(z.string()).describe("An array of observation contents to add"),
});
export type ObservationAdd = z.infer<typeof ObservationAddSchema>;

export const ObservationAddResultSchema = z.object({ entityName: z.string(), addedObservations: z.array(z.string()) });
export type ObservationAddResult = z.infer<typeof ObservationAddResultSchema>;

export const ObservationDeleteSchema = z.object({
  entityName: z.string().describe("The name of the entity containing the observations"),
  observations: z.array(z.string()).describe("An array of observations to delete"),
});
export type ObservationDelete = z.infer<typeof ObservationDeleteSchema>;

/** A page of a large result: entities `offset … offset+limit` in result order, with the relations touching them. */
export interface Page {
  limit?: number;
  offset?: number;
}

/** An entity with what msm keeps beyond the official shape: when it was created and last changed (ms since epoch). */
export interface EntityDetails extends Entity {
  createdAt: number;
  updatedAt: number;
  outgoingRelations: number;
  incomingRelations: number;
}

export interface MemoryStats {
  database: string;
  entities: number;
  observations: number;
  relations: number;
  /** The database file plus its WAL, in bytes. */
  bytes: number;
}

/** Thrown for a call that cannot be done; the message is what the user sees (the official text where there is one). */
export class GraphError extends Error {
  override readonly name = "GraphError";
}

/** What `importGraph` did, for the import command's summary. */
export interface ImportCounts {
  entitiesAdded: number;
  /** Entities whose name was already there: their new observations were added, their type kept. */
  entitiesMerged: number;
  observationsAdded: number;
  relationsAdded: number;
}

export type Direction = "outgoing" | "incoming" | "both";

/** The graph operations every backend answers: SQLite's GraphStore at once, its worker and PostgreSQL with promises. */
export interface GraphOperations {
  createEntities(entities: Entity[]): Entity[];
  createRelations(relations: Relation[]): Relation[];
  addObservations(additions: ObservationAdd[]): ObservationAddResult[];
  deleteEntities(names: string[]): void;
  deleteObservations(deletions: ObservationDelete[]): void;
  deleteRelations(relations: Relation[]): void;
  readGraph(page?: Page): KnowledgeGraph;
  searchNodes(query: string, page?: Page): KnowledgeGraph;
  openNodes(names: string[]): KnowledgeGraph;
  stats(): MemoryStats;
  renameEntity(oldName: string, newName: string): Entity;
  mergeEntities(sources: string[], target: string): Entity;
  entityDetails(name: string): EntityDetails | undefined;
  nodeRelations(name: string, direction?: Direction, page?: Page): Relation[];
  recall(query: string, options?: RecallOptions): RecallResult[];
}

/** The GraphStore methods the daemon calls, each answered by the database's worker thread. */
export const STORE_METHODS = [
  "createEntities",
  "createRelations",
  "addObservations",
  "deleteEntities",
  "deleteObservations",
  "deleteRelations",
  "readGraph",
  "searchNodes",
  "openNodes",
  "stats",
  "renameEntity",
  "mergeEntities",
  "entityDetails",
  "nodeRelations",
  "recall",
] as const satisfies readonly (keyof GraphOperations)[];
export type StoreMethod = (typeof STORE_METHODS)[number];

type Maybe<T> = T | Promise<T>;

/**
 * What the MCP server needs from a graph: the SQLite worker (AsyncStore) and PgGraph both answer with promises;
 * `Maybe` also admits a plain GraphStore (tests, tools). `file` keys resource subscriptions.
 */
export type Graph = { readonly file: string } & {
  [K in StoreMethod]: (...args: Parameters<GraphOperations[K]>) => Maybe<ReturnType<GraphOperations[K]>>;
};
export type GraphItem = { type: "entity"; entity: Entity } | { type: "relation"; relation: Relation };

/** What import, export and migrate need: write a batch with the import rules, read everything in order. */
export interface TransferGraph {
  importGraph(entities: Entity[], relations: Relation[]): Maybe<ImportCounts>;
  iterate(): Iterable<GraphItem> | AsyncIterable<GraphItem>;
}

/** Where a session's graph lives and why, for `memory_stats`. */
export interface StoreChoice {
  scope: "project" | "home";
  why: string;
  backend: "sqlite" | "postgres";
  /** PostgreSQL only: the project's id in the shared database and how it was found. */
  projectId?: string;
  projectIdSource?: ProjectIdentity["source"];
}

/** The graphs a daemon serves, picked per request from its `Mcp-Project-Path`. */
export interface GraphSource {
  readonly backend: "sqlite" | "postgres";
  current(): Graph;
  currentWithChoice(): { store: Graph; choice: StoreChoice };
  /**
   * Calls `changed` when something other than this daemon changes `store` (another machine on a shared database).
   * Absent for SQLite: every writer of a project file is this daemon, and it notifies its sessions itself.
   */
  follow?(store: Graph, changed: () => void): Promise<void>;
  closeAll(): void | Promise<void>;
}
