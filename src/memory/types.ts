import { z } from "zod";

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
