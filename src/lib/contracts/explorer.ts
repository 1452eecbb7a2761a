/**
 * The memory explorer, between the dashboard (supervisor/web, main thread) and its worker (memory/explorer/worker.ts,
 * a thread of its own): the methods, their answers and the messages that carry them. The worker's Explorer
 * implements ExplorerApi; the dashboard's client calls it by message, so neither folder imports the other.
 */

interface Relation {
  from: string;
  to: string;
  relationType: string;
}

export interface DatabaseInfo {
  id: string;
  backend: "sqlite" | "postgres";
  /** "home", the project folder's name, or a PostgreSQL project's id (its git origin, msm.json name or path) */
  label: string;
  /** The project folder (SQLite) or the project's full key in the shared database (PostgreSQL); null = home */
  project: string | null;
  /** The SQLite file, or the PostgreSQL server as `postgres://user@host:port/db` (never a password) */
  file: string;
  entities: number | null;
  relations: number | null;
  /** Why the PostgreSQL server could not be listed (it is shown as one row carrying this) */
  error?: string;
}

/** One page of search_nodes' matches, in its order, with a line of context each. */
export interface SearchPage {
  entities: { name: string; entityType: string; observations: number; snippet: string }[];
  more: boolean;
}

/** One entity as the explorer shows it: observations with their times, relations each way (one page). */
export interface EntityView {
  name: string;
  entityType: string;
  createdAt: number;
  updatedAt: number;
  observations: { content: string; createdAt: number }[];
  outgoing: Relation[];
  incoming: Relation[];
  outgoingCount: number;
  incomingCount: number;
}

export interface GraphView {
  center: string;
  nodes: { name: string; entityType: string | null; depth: number; degree: number }[];
  edges: Relation[];
  truncated: boolean;
}

/** What the explorer answers; undefined = no such database or entity. */
export interface ExplorerApi {
  databases(): Promise<DatabaseInfo[]>;
  search(id: string, query: string, offset?: number): Promise<SearchPage | undefined>;
  entity(id: string, name: string): Promise<EntityView | undefined>;
  graph(id: string, name: string, max?: number): Promise<GraphView | undefined>;
}

export type ExplorerMethod = keyof ExplorerApi;
export interface ExplorerRequest {
  id: number;
  method: ExplorerMethod;
  args: unknown[];
}
export type ExplorerReply = { id: number; result: unknown } | { id: number; error: string };
