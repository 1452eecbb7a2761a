import { createHash } from "node:crypto";
import { existsSync, lstatSync } from "node:fs";
import { basename, dirname } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { knownDatabases } from "../lib/known-databases.ts";
import { homeDatabasePath } from "./databases.ts";
import { PgGraph, PgServer } from "./pg-store.ts";
import { configuredDatabaseUrl, parsePgUrl } from "./pg-url.ts";
import type { ProjectIdentity } from "./project-id.ts";
import { GraphStore, type Direction } from "./store.ts";
import type { EntityDetails, KnowledgeGraph, Page, Relation } from "./types.ts";

/** Search results per database per page: a page, never the whole graph. */
export const SEARCH_PAGE = 50;
/** Relations listed per direction on an entity page (the rest are counted, not sent). */
export const RELATIONS_PAGE = 200;
/** The graph view draws at most this many nodes, whatever the database's size. */
export const GRAPH_MAX_NODES = 150;
export const GRAPH_DEFAULT_NODES = 60;
/** Relations followed from one node while growing the neighbourhood: a hub with 10,000 links costs 40 rows. */
const GRAPH_PER_NODE = 40;
const GRAPH_DEPTH = 2;
/** Read-only stores kept open, and how long an unused one stays open. */
const MAX_OPEN = 8;
const IDLE_CLOSE_MS = 5 * 60_000;
const SNIPPET_CHARS = 160;
/** Connections the explorer may hold to a PostgreSQL server (a daemon holds 4). */
const PG_EXPLORER_POOL = 2;

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

type Maybe<T> = T | Promise<T>;
/** What browsing needs from a graph: GraphStore answers at once, PgGraph with promises. */
interface Browsable {
  searchNodes(query: string, page?: Page): Maybe<KnowledgeGraph>;
  entityDetails(name: string): Maybe<EntityDetails | undefined>;
  observationTimes(name: string): Maybe<{ content: string; createdAt: number }[]>;
  nodeRelations(name: string, direction?: Direction, page?: Page): Maybe<Relation[]>;
}

export interface GraphView {
  center: string;
  nodes: { name: string; entityType: string | null; depth: number; degree: number }[];
  edges: Relation[];
  truncated: boolean;
}

function idOf(file: string): string {
  return createHash("sha256").update(file).digest("hex").slice(0, 12);
}

/**
 * Files under a project are untrusted (docs/architecture.md, security rules): only a regular file of ours, not a
 * symlink, in a `.claude` folder that is not a symlink either, is opened.
 */
function trustworthy(file: string): boolean {
  try {
    const uid = process.getuid?.();
    const db = lstatSync(file);
    const folder = lstatSync(dirname(file));
    if (!db.isFile() || folder.isSymbolicLink() || !folder.isDirectory()) return false;
    return uid === undefined || (db.uid === uid && folder.uid === uid);
  } catch {
    return false;
  }
}

/** A PostgreSQL project's key as a person reads it: `github.com/acme/app`, `team-notes`, a folder's name, `home (ann)`. */
function pgLabel(key: string): string {
  if (key.startsWith("id:")) return key.slice(3);
  if (key.startsWith("path:")) return basename(key.slice(5)) || key.slice(5);
  if (key.startsWith("home:")) return `home (${key.slice(5)})`;
  return key;
}

function pgSource(key: string): ProjectIdentity["source"] {
  return key.startsWith("id:") ? "msm.json" : key.startsWith("path:") ? "path" : key.startsWith("home:") ? "home" : "git-origin";
}

/**
 * The memory explorer's read side: every database the memory daemon has opened (its registry in MSM_HOME) plus the
 * home one, opened read-only with the same GraphStore the daemon uses, so search ranks exactly as search_nodes does;
 * and, when a database URL is configured (MSM_MEMORY_DATABASE_URL or targets.memory.database, as for the daemon),
 * every project in that PostgreSQL database, read with the daemon's PgGraph (same ranking there too).
 * The browser names a database by an opaque id from this list, never by a path or a URL.
 */
export class Explorer {
  private readonly open = new Map<string, { store: GraphStore; lastUsed: number }>();
  private readonly sweeper: Timer;
  private pg: { url: string; server: PgServer; graphs: Map<string, PgGraph> } | undefined;

  constructor() {
    this.sweeper = setInterval(() => this.closeIdle(), 60_000);
    this.sweeper.unref();
  }

  /** Database files that exist and may be opened: the home one first, then the most recently opened. */
  private files(): string[] {
    const home = homeDatabasePath();
    const files = [home, ...knownDatabases().map((k) => k.file).filter((f) => f !== home)];
    return files.filter((file) => existsSync(file) && trustworthy(file));
  }

  async databases(): Promise<DatabaseInfo[]> {
    const home = homeDatabasePath();
    const list: DatabaseInfo[] = [];
    for (const file of this.files()) {
      const project = file === home ? null : dirname(dirname(file));
      let counts: { entities: number; relations: number } | undefined;
      try {
        counts = this.store(file).stats();
      } catch {}
      list.push({ id: idOf(file), backend: "sqlite", label: project ? basename(project) : "home", project, file, entities: counts?.entities ?? null, relations: counts?.relations ?? null });
    }
    return [...list, ...(await this.pgDatabases())];
  }

  /** The configured PostgreSQL server, opened on first use and again when the configured URL changes. */
  private pgServer(): { url: string; server: PgServer; graphs: Map<string, PgGraph> } | undefined {
    let url: string | undefined;
    try {
      const memory = loadConfig().targets.memory;
      url = configuredDatabaseUrl(memory && "database" in memory ? memory.database : undefined);
    } catch {
      url = configuredDatabaseUrl(undefined);
    }
    if (this.pg?.url !== url) {
      void this.pg?.server.close();
      this.pg = url ? { url, server: new PgServer(parsePgUrl(url), { max: PG_EXPLORER_POOL }), graphs: new Map() } : undefined;
    }
    return this.pg;
  }

  /** One row per project in the PostgreSQL database, or one row saying why it could not be read. */
  private async pgDatabases(): Promise<DatabaseInfo[]> {
    let pg: ReturnType<Explorer["pgServer"]>;
    try {
      pg = this.pgServer();
    } catch (error) {
      return [{ id: idOf("pg:invalid"), backend: "postgres", label: "PostgreSQL", project: null, file: "", entities: null, relations: null, error: (error as Error).message }];
    }
    if (!pg) return [];
    const display = pg.server.target.display;
    try {
      const projects = await pg.server.projectList();
      pg.graphs.clear();
      return projects.map((p) => {
        const id = idOf(`pg:${display}#${p.key}`);
        pg.graphs.set(id, new PgGraph(pg.server, { id: p.key, source: pgSource(p.key) }));
        return { id, backend: "postgres" as const, label: pgLabel(p.key), project: p.key, file: display, entities: p.entities, relations: p.relations };
      });
    } catch (error) {
      return [{ id: idOf(`pg:${display}`), backend: "postgres", label: "PostgreSQL", project: null, file: display, entities: null, relations: null, error: pg.server.explain(error).message }];
    }
  }

  /** The file behind an id from `databases()`; undefined for anything else. */
  private fileOf(id: string): string | undefined {
    return this.files().find((file) => idOf(file) === id);
  }

  private store(file: string): GraphStore {
    const hit = this.open.get(file);
    if (hit) {
      hit.lastUsed = Date.now();
      return hit.store;
    }
    const store = new GraphStore(file, { readonly: true });
    this.open.set(file, { store, lastUsed: Date.now() });
    while (this.open.size > MAX_OPEN) this.close(this.open.keys().next().value!);
    return store;
  }

  private async storeOf(id: string): Promise<Browsable | undefined> {
    const file = this.fileOf(id);
    if (file) return this.store(file);
    const pg = this.pgServer();
    if (!pg) return undefined;
    // An id from a listing this worker has not made (the page was opened directly): list again once.
    if (!pg.graphs.has(id)) await this.pgDatabases();
    return pg.graphs.get(id);
  }

  /** search_nodes' matches in search_nodes' order, one page, with a line of context each. */
  async search(id: string, query: string, offset = 0): Promise<{ entities: { name: string; entityType: string; observations: number; snippet: string }[]; more: boolean } | undefined> {
    const store = await this.storeOf(id);
    if (!store) return undefined;
    const found = await store.searchNodes(query, { limit: SEARCH_PAGE + 1, offset });
    const needle = query.toLowerCase();
    const entities = found.entities.slice(0, SEARCH_PAGE).map((e) => {
      const hit = (needle && e.observations.find((o) => o.toLowerCase().includes(needle))) || e.observations[0] || "";
      return { name: e.name, entityType: e.entityType, observations: e.observations.length, snippet: snippet(hit, needle) };
    });
    return { entities, more: found.entities.length > SEARCH_PAGE };
  }

  async entity(id: string, name: string) {
    const store = await this.storeOf(id);
    const details = await store?.entityDetails(name);
    if (!store || !details) return undefined;
    return {
      name: details.name,
      entityType: details.entityType,
      createdAt: details.createdAt,
      updatedAt: details.updatedAt,
      observations: await store.observationTimes(name),
      outgoing: await store.nodeRelations(name, "outgoing", { limit: RELATIONS_PAGE }),
      incoming: await store.nodeRelations(name, "incoming", { limit: RELATIONS_PAGE }),
      outgoingCount: details.outgoingRelations,
      incomingCount: details.incomingRelations,
    };
  }

  /**
   * The neighbourhood of `name`, breadth first, at most `max` nodes: each node contributes at most GRAPH_PER_NODE
   * relations, so the cost is bounded by `max`, not by the database or a hub's degree.
   */
  async graph(id: string, name: string, max = GRAPH_DEFAULT_NODES): Promise<GraphView | undefined> {
    const store = await this.storeOf(id);
    if (!store || !(await store.entityDetails(name))) return undefined;
    const limit = Math.max(2, Math.min(GRAPH_MAX_NODES, Math.floor(max) || GRAPH_DEFAULT_NODES));
    const depth = new Map<string, number>([[name, 0]]);
    const edges = new Map<string, Relation>();
    const queue = [name];
    let truncated = false;
    while (queue.length) {
      const node = queue.shift()!;
      const d = depth.get(node)!;
      const relations = await store.nodeRelations(node, "both", { limit: GRAPH_PER_NODE + 1 });
      if (relations.length > GRAPH_PER_NODE) truncated = true;
      for (const r of relations.slice(0, GRAPH_PER_NODE)) {
        const other = r.from === node ? r.to : r.from;
        if (!depth.has(other)) {
          if (depth.size >= limit || d >= GRAPH_DEPTH) {
            truncated = true;
            continue;
          }
          depth.set(other, d + 1);
          queue.push(other);
        }
        edges.set(`${r.from}\u0000${r.relationType}\u0000${r.to}`, r);
      }
    }
    const nodes = await Promise.all(
      [...depth].map(async ([n, level]) => {
        const details = await store.entityDetails(n);
        return { name: n, entityType: details?.entityType ?? null, depth: level, degree: details ? details.outgoingRelations + details.incomingRelations : 0 };
      }),
    );
    return { center: name, nodes, edges: [...edges.values()].filter((e) => depth.has(e.from) && depth.has(e.to)), truncated };
  }

  closeIdle(now = Date.now()): void {
    for (const [file, entry] of this.open) if (now - entry.lastUsed >= IDLE_CLOSE_MS) this.close(file);
  }

  dispose(): void {
    clearInterval(this.sweeper);
    for (const file of [...this.open.keys()]) this.close(file);
    void this.pg?.server.close();
    this.pg = undefined;
  }

  private close(file: string): void {
    try {
      this.open.get(file)?.store.close();
    } catch {}
    this.open.delete(file);
  }
}

function snippet(text: string, needle: string): string {
  if (text.length <= SNIPPET_CHARS) return text;
  const at = needle ? Math.max(0, text.toLowerCase().indexOf(needle) - 40) : 0;
  return (at > 0 ? "…" : "") + text.slice(at, at + SNIPPET_CHARS) + "…";
}
