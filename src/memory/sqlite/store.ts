import { Database, constants, type Statement } from "bun:sqlite";
import { statSync } from "node:fs";
import { migrate } from "./schema.ts";
import { phrase, SearchPlanner, type SearchPlan } from "./search.ts";
import { RecallIndex } from "./recall-index.ts";
import { recallPlan, runRecallSync, type RecallOptions, type RecallResult, type RecallTuning } from "../recall.ts";
import {
  GraphError,
  type Direction,
  type GraphOperations,
  type ImportCounts,
  type Entity,
  type EntityDetails,
  type KnowledgeGraph,
  type MemoryStats,
  type ObservationAdd,
  type ObservationAddResult,
  type ObservationDelete,
  type Page,
  type Relation,
} from "../types.ts";

export * from "../types.ts";
export type { SearchPlan } from "./search.ts";

/** How long a write waits for another process's transaction (several daemons or tools may share a file). */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * Every this many write calls, a bounded slice of FTS5 merge work (MERGE_PAGES pages). Each write transaction adds
 * a small segment to the search index, and a query pays for every segment: left to FTS5's own automerge a daemon's
 * index sits at ~15-20 segments and search is 4-5× slower than on a merged one. Bounded slices keep it near one
 * segment without ever stalling a call on a full rebuild.
 */
const MERGE_EVERY_WRITES = 32;
const MERGE_PAGES = 64;

/** The knowledge graph in one SQLite file. Every method is one transaction, so a call is all or nothing. */
export class GraphStore implements GraphOperations {
  readonly db: Database;
  private readonly q: ReturnType<typeof prepare>;
  private writes = 0;
  private readonly planner: SearchPlanner;
  private readonly recallIndex: RecallIndex;
  private readonly readonly: boolean;

  /**
   * `nofollow`: refuse to open a path with a symlink anywhere in it (SQLITE_OPEN_NOFOLLOW) — for files under a
   * project, which a cloned repository controls. bun:sqlite takes raw flags only without its `strict` option, so
   * named parameters are always bound with their `:` prefix (valid in both modes).
   */
  constructor(
    readonly file: string,
    options: { readonly?: boolean; nofollow?: boolean; busyTimeoutMs?: number } = {},
  ) {
    const flags =
      (options.readonly ? constants.SQLITE_OPEN_READONLY : constants.SQLITE_OPEN_READWRITE | constants.SQLITE_OPEN_CREATE) |
      (options.nofollow ? constants.SQLITE_OPEN_NOFOLLOW : 0);
    this.db = new Database(file, flags);
    this.readonly = options.readonly ?? false;
    this.db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
    this.recallIndex = new RecallIndex(this.db, () => this.planner.rowCounts());
    if (!options.readonly) {
      this.db.exec("PRAGMA journal_mode = WAL");
      // FULL: a call the editor saw succeed survives a power loss too, not just a crash of the process (NORMAL in WAL
      // mode may roll back the last commits then). One more fsync (of the WAL) per commit; `npm run bench -- durability`.
      this.db.exec("PRAGMA synchronous = FULL");
      migrate(this.db, () => {
        this.recallIndex.catchUp();
        this.recallIndex.flush();
      });
    }
    this.db.exec("PRAGMA foreign_keys = ON");
    this.q = prepare(this.db);
    this.planner = new SearchPlanner(this.db);
  }

  close(): void {
    this.db.close();
  }

  /**
   * One IMMEDIATE transaction per call: the write lock is taken up front, so concurrent writers queue on the busy
   * timeout instead of failing with SQLITE_BUSY halfway through a read-then-write.
   */
  private write<T>(fn: () => T): T {
    const result = this.db
      .transaction(() => {
        try {
          const value = fn();
          this.recallIndex.flush();
          return value;
        } finally {
          this.recallIndex.discard();
        }
      })
      .immediate();
    if (++this.writes % MERGE_EVERY_WRITES === 0) this.mergeSearchIndex(MERGE_PAGES);
    return result;
  }

  /** Some incremental FTS5 merge work; best effort (a busy database just skips it until next time). */
  mergeSearchIndex(pages: number): void {
    try {
      this.db
        .transaction(() => {
          this.db.exec(`INSERT INTO entities_fts (entities_fts, rank) VALUES ('merge', ${-pages})`);
          this.db.exec(`INSERT INTO observations_fts (observations_fts, rank) VALUES ('merge', ${-pages})`);
        })
        .immediate();
    } catch {}
  }

  /** Merges the search index into one segment: after a bulk import, so the first searches are fast. */
  optimizeSearchIndex(): void {
    this.db
      .transaction(() => {
        this.db.exec("INSERT INTO entities_fts (entities_fts) VALUES ('optimize')");
        this.db.exec("INSERT INTO observations_fts (observations_fts) VALUES ('optimize')");
      })
      .immediate();
  }

  /** Reads in one transaction, so a multi-query answer is one consistent snapshot even while others write. */
  private read<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  createEntities(entities: Entity[]): Entity[] {
    return this.write(() => {
      const created: Entity[] = [];
      const now = Date.now();
      for (const entity of entities) {
        // A name repeated inside one call is stored once (the official server stores it twice).
        if (this.q.entityId.get(entity.name)) continue;
        const id = this.insertEntity(entity.name, entity.entityType, now);
        const stored: string[] = [];
        for (const content of entity.observations) {
          if (this.insertObservation(id, content, now)) stored.push(content);
        }
        created.push({ name: entity.name, entityType: entity.entityType, observations: stored });
      }
      return created;
    });
  }

  createRelations(relations: Relation[]): Relation[] {
    return this.write(() => {
      const created: Relation[] = [];
      const now = Date.now();
      for (const r of relations) {
        if (this.q.insertRelation.run(r.from, r.to, r.relationType, now).changes > 0) {
          created.push({ from: r.from, to: r.to, relationType: r.relationType });
        }
      }
      return created;
    });
  }

  addObservations(additions: ObservationAdd[]): ObservationAddResult[] {
    return this.write(() => {
      const now = Date.now();
      return additions.map((o) => {
        const id = this.entityId(o.entityName);
        // Throwing inside the transaction rolls back everything this call wrote, as the official server saves nothing.
        if (id === undefined) throw new GraphError(`Entity with name ${o.entityName} not found`);
        const added: string[] = [];
        for (const content of o.contents) {
          if (this.insertObservation(id, content, now)) added.push(content);
        }
        if (added.length) this.q.touchEntity.run(now, id);
        return { entityName: o.entityName, addedObservations: added };
      });
    });
  }

  deleteEntities(names: string[]): void {
    this.write(() => {
      for (const name of names) {
        this.q.deleteEntity.run(name);
        // Also relations whose endpoint never existed as an entity, as the official server filters by name.
        this.q.deleteRelationsFrom.run(name);
        this.q.deleteRelationsTo.run(name);
      }
    });
  }

  deleteObservations(deletions: ObservationDelete[]): void {
    this.write(() => {
      const now = Date.now();
      for (const d of deletions) {
        const id = this.entityId(d.entityName);
        if (id === undefined) continue;
        let removed = 0;
        for (const content of d.observations) removed += this.q.deleteObservation.run(id, content).changes;
        if (removed) this.q.touchEntity.run(now, id);
      }
    });
  }

  deleteRelations(relations: Relation[]): void {
    this.write(() => {
      for (const r of relations) this.q.deleteRelation.run(r.from, r.to, r.relationType);
    });
  }

  /** The whole graph, or one page of entities (in creation order) with the relations touching them. */
  readGraph(page: Page = {}): KnowledgeGraph {
    return this.read(() => {
      if (page.limit === undefined && !page.offset) {
        return { entities: this.allEntities(), relations: (this.q.allRelations.all() as RelationRow[]).map(toRelation) };
      }
      return this.subgraph(this.q.entityPage.all(limitOf(page), page.offset ?? 0) as EntityRow[]);
    });
  }

  /**
   * Case-insensitive substring match over name, type and observations: exactly the official server's set of
   * matches, ranked — an exact name first, then names containing the query, then by BM25 — and optionally paged.
   * Each table is searched by its trigram index or by a scan, whichever costs less for this query (`searchPlan`);
   * both find the same rows and rank them the same way.
   */
  searchNodes(query: string, page: Page = {}): KnowledgeGraph {
    const needle = query.toLowerCase();
    const limit = limitOf(page);
    const offset = page.offset ?? 0;
    return this.read(() => {
      if (needle === "") return this.subgraph(this.q.entityPage.all(limit, offset) as EntityRow[]);
      const plan = this.planner.plan(needle);
      const stats = this.planner.observationStats();
      const rows = this.planner.statement(plan).all({
        ":phrase": phrase(needle),
        ":needle": needle,
        ":avgdl": stats.avgdl,
        ":limit": limit,
        ":offset": offset,
      }) as EntityRow[];
      return this.subgraph(rows);
    });
  }

  /** How `searchNodes` would search each table for this query (for tests and benchmarks). */
  searchPlan(query: string): SearchPlan {
    return this.read(() => this.planner.plan(query.toLowerCase()));
  }

  /** The named entities that exist, in creation order (as the official server returns them), with touching relations. */
  openNodes(names: string[]): KnowledgeGraph {
    return this.read(() => {
      const rows: EntityRow[] = [];
      for (const name of new Set(names)) {
        const row = this.q.entityByName.get(name) as EntityRow | null;
        if (row) rows.push(row);
      }
      rows.sort((a, b) => a.id - b.id);
      return this.subgraph(rows);
    });
  }

  stats(): MemoryStats {
    return this.read(() => {
      const counts = this.q.counts.get() as { entities: number; observations: number; relations: number };
      return { database: this.file, ...counts, bytes: fileSize(this.file) + fileSize(`${this.file}-wal`) };
    });
  }

  /** Renames an entity and every relation naming it. */
  renameEntity(oldName: string, newName: string): Entity {
    return this.write(() => {
      const id = this.entityId(oldName);
      if (id === undefined) throw new GraphError(`Entity with name ${oldName} not found`);
      if (oldName === newName) return this.entityById(id);
      if (this.entityId(newName) !== undefined) throw new GraphError(`Entity with name ${newName} already exists`);
      this.q.renameEntity.run(newName, newName.toLowerCase(), Date.now(), id);
      // The rename trigger dropped the old name's terms.
      const row = this.q.entityById.get(id) as EntityRow;
      this.recallIndex.indexEntity(id, row.name, row.entity_type);
      this.repointRelations(oldName, newName);
      return this.entityById(id);
    });
  }

  /**
   * Folds each source entity into the target: its observations are added (duplicates skipped), its relations
   * re-pointed (duplicates dropped), then it is deleted. All or nothing.
   */
  mergeEntities(sources: string[], target: string): Entity {
    return this.write(() => {
      const targetId = this.entityId(target);
      if (targetId === undefined) throw new GraphError(`Entity with name ${target} not found`);
      const now = Date.now();
      for (const source of new Set(sources)) {
        if (source === target) continue;
        const sourceId = this.entityId(source);
        if (sourceId === undefined) throw new GraphError(`Entity with name ${source} not found`);
        // Each observation keeps the time it was first written: recall and the explorer show when a thing was learnt.
        for (const o of this.q.observationTimes.all(sourceId) as { content: string; created_at: number }[]) {
          this.insertObservation(targetId, o.content, o.created_at);
        }
        this.repointRelations(source, target);
        this.q.deleteEntity.run(source);
      }
      this.q.touchEntity.run(now, targetId);
      return this.entityById(targetId);
    });
  }

  /** An entity with its timestamps and relation counts; undefined when there is none by that name. */
  entityDetails(name: string): EntityDetails | undefined {
    return this.read(() => {
      const row = this.q.entityDetails.get(name) as (EntityRow & { created_at: number; updated_at: number }) | null;
      if (!row) return undefined;
      const outgoing = (this.q.countFrom.get(name) as { n: number }).n;
      const incoming = (this.q.countTo.get(name) as { n: number }).n;
      return {
        ...this.entityFrom(row),
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        outgoingRelations: outgoing,
        incomingRelations: incoming,
      };
    });
  }

  /** An entity's observations with when each was added (ms since epoch), in order; [] when there is no such entity. */
  observationTimes(name: string): { content: string; createdAt: number }[] {
    return this.read(() => {
      const id = this.entityId(name);
      return id === undefined
        ? []
        : (this.q.observationTimes.all(id) as { content: string; created_at: number }[]).map((o) => ({ content: o.content, createdAt: o.created_at }));
    });
  }

  /** Relations starting and/or ending at a name (whether or not an entity has it), in creation order, paged. */
  nodeRelations(name: string, direction: Direction = "both", page: Page = {}): Relation[] {
    const from = direction === "incoming" ? null : name;
    const to = direction === "outgoing" ? null : name;
    return this.read(() => (this.q.relationsPage.all(from, to, limitOf(page), page.offset ?? 0) as RelationRow[]).map(toRelation));
  }

  /**
   * Adds a graph read from a file. Unlike create_entities, an entity whose name exists gets the file's new
   * observations (so importing twice, or a file that lists a name twice, loses nothing and duplicates nothing).
   */
  importGraph(entities: Entity[], relations: Relation[]): ImportCounts {
    return this.write(() => {
      const counts: ImportCounts = { entitiesAdded: 0, entitiesMerged: 0, observationsAdded: 0, relationsAdded: 0 };
      const now = Date.now();
      for (const entity of entities) {
        let id = this.entityId(entity.name);
        if (id === undefined) {
          id = this.insertEntity(entity.name, entity.entityType, now);
          counts.entitiesAdded++;
        } else counts.entitiesMerged++;
        for (const content of entity.observations) if (this.insertObservation(id, content, now)) counts.observationsAdded++;
      }
      for (const r of relations) counts.relationsAdded += this.q.insertRelation.run(r.from, r.to, r.relationType, now).changes;
      return counts;
    });
  }

  /** Every entity then every relation in creation order, one at a time (export of graphs larger than memory). */
  *iterate(): Generator<{ type: "entity"; entity: Entity } | { type: "relation"; relation: Relation }> {
    let current: (Entity & { id: number }) | undefined;
    for (const row of this.q.entitiesWithObservations.iterate() as IterableIterator<EntityRow & { content: string | null }>) {
      if (current?.id !== row.id) {
        if (current) yield { type: "entity", entity: strip(current) };
        current = { id: row.id, name: row.name, entityType: row.entity_type, observations: [] };
      }
      if (row.content !== null) current.observations.push(row.content);
    }
    if (current) yield { type: "entity", entity: strip(current) };
    for (const row of this.q.allRelations.iterate() as IterableIterator<RelationRow>) yield { type: "relation", relation: toRelation(row) };
  }

  /**
   * Observations the most relevant to a question in words, best first (recall.ts ranks; recall-index.ts reads).
   * Rows another program wrote without indexing them are indexed first, in a write of their own.
   */
  recall(query: string, options: RecallOptions = {}, tuning?: RecallTuning): RecallResult[] {
    if (!this.readonly && !this.recallIndex.complete()) this.write(() => this.recallIndex.catchUp());
    return this.read(() => runRecallSync(recallPlan(query, options, tuning), (need) => this.recallIndex.answer(need)));
  }

  /** Stores an observation unless its entity has it already (then false); indexes it for recall. */
  private insertObservation(entityId: number, content: string, now: number): boolean {
    const row = this.q.insertObservation.get(entityId, content, content.toLowerCase(), now) as { id: number } | null;
    if (!row) return false;
    this.recallIndex.indexObservation(row.id, entityId, content);
    return true;
  }

  private insertEntity(name: string, entityType: string, now: number): number {
    const { id } = this.q.insertEntity.get(name, entityType, name.toLowerCase(), entityType.toLowerCase(), now, now) as { id: number };
    this.recallIndex.indexEntity(id, name, entityType);
    return id;
  }

  private entityId(name: string): number | undefined {
    return (this.q.entityId.get(name) as { id: number } | null)?.id;
  }

  private entityById(id: number): Entity {
    return this.entityFrom(this.q.entityById.get(id) as EntityRow);
  }

  /** Points relations at `to` instead of `from`; one that would then duplicate an existing relation is dropped. */
  private repointRelations(from: string, to: string): void {
    this.q.repointFrom.run(to, from);
    this.q.repointTo.run(to, from);
    this.q.deleteRelationsFrom.run(from);
    this.q.deleteRelationsTo.run(from);
  }

  /**
   * The given entities plus every relation with at least one endpoint among them, in creation order. Three
   * statements whatever the number of entities (a search may return thousands): observations and relations are
   * fetched for the whole id/name list at once, passed as one JSON array.
   */
  private subgraph(rows: EntityRow[]): KnowledgeGraph {
    if (rows.length === 0) return { entities: [], relations: [] };
    if (rows.length === 1) {
      const row = rows[0]!;
      return { entities: [this.entityFrom(row)], relations: (this.q.relationsOf.all(row.name) as RelationRow[]).map(toRelation) };
    }
    const observations = new Map<number, string[]>();
    for (const row of rows) observations.set(row.id, []);
    for (const o of this.q.observationsOfMany.iterate(JSON.stringify(rows.map((r) => r.id))) as IterableIterator<{ entity_id: number; content: string }>) {
      observations.get(o.entity_id)!.push(o.content);
    }
    const relations = this.q.relationsOfMany.all(JSON.stringify(rows.map((r) => r.name))) as RelationRow[];
    return {
      entities: rows.map((row) => ({ name: row.name, entityType: row.entity_type, observations: observations.get(row.id)! })),
      relations: relations.map(toRelation),
    };
  }

  private entityFrom(row: EntityRow): Entity {
    const observations = (this.q.observationsOf.all(row.id) as { content: string }[]).map((o) => o.content);
    return { name: row.name, entityType: row.entity_type, observations };
  }

  /** All entities in one ordered pass instead of a query per entity. */
  private allEntities(): Entity[] {
    const entities: Entity[] = [];
    for (const item of this.iterateEntities()) entities.push(item);
    return entities;
  }

  private *iterateEntities(): Generator<Entity> {
    for (const item of this.iterate()) {
      if (item.type !== "entity") return;
      yield item.entity;
    }
  }
}

interface EntityRow {
  id: number;
  name: string;
  entity_type: string;
}
interface RelationRow {
  id: number;
  from_name: string;
  to_name: string;
  relation_type: string;
}

function toRelation(row: RelationRow): Relation {
  return { from: row.from_name, to: row.to_name, relationType: row.relation_type };
}

function strip(e: Entity & { id: number }): Entity {
  return { name: e.name, entityType: e.entityType, observations: e.observations };
}

/** SQLite's "no limit" is -1. */
function limitOf(page: Page): number {
  return page.limit ?? -1;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function prepare(db: Database) {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    entityId: s("SELECT id FROM entities WHERE name = ?"),
    entityByName: s("SELECT id, name, entity_type FROM entities WHERE name = ?"),
    entityById: s("SELECT id, name, entity_type FROM entities WHERE id = ?"),
    entityDetails: s("SELECT id, name, entity_type, created_at, updated_at FROM entities WHERE name = ?"),
    insertEntity: s("INSERT INTO entities (name, entity_type, name_lc, type_lc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id"),
    touchEntity: s("UPDATE entities SET updated_at = ? WHERE id = ?"),
    renameEntity: s("UPDATE entities SET name = ?, name_lc = ?, updated_at = ? WHERE id = ?"),
    deleteEntity: s("DELETE FROM entities WHERE name = ?"),
    insertObservation: s("INSERT OR IGNORE INTO observations (entity_id, content, content_lc, created_at) VALUES (?, ?, ?, ?) RETURNING id"),
    deleteObservation: s("DELETE FROM observations WHERE entity_id = ? AND content = ?"),
    observationsOf: s("SELECT content FROM observations WHERE entity_id = ? ORDER BY id"),
    observationsOfMany: s("SELECT entity_id, content FROM observations WHERE entity_id IN (SELECT value FROM json_each(?)) ORDER BY id"),
    observationTimes: s("SELECT content, created_at FROM observations WHERE entity_id = ? ORDER BY id"),
    insertRelation: s("INSERT OR IGNORE INTO relations (from_name, to_name, relation_type, created_at) VALUES (?, ?, ?, ?)"),
    deleteRelation: s("DELETE FROM relations WHERE from_name = ? AND to_name = ? AND relation_type = ?"),
    deleteRelationsFrom: s("DELETE FROM relations WHERE from_name = ?"),
    deleteRelationsTo: s("DELETE FROM relations WHERE to_name = ?"),
    repointFrom: s("UPDATE OR IGNORE relations SET from_name = ? WHERE from_name = ?"),
    repointTo: s("UPDATE OR IGNORE relations SET to_name = ? WHERE to_name = ?"),
    // Two index lookups (from via the unique constraint, to via relations_to) rather than an OR that may scan.
    relationsOf: s(`
      SELECT id, from_name, to_name, relation_type FROM relations WHERE from_name = ?1
      UNION
      SELECT id, from_name, to_name, relation_type FROM relations WHERE to_name = ?1`),
    relationsOfMany: s(`
      SELECT id, from_name, to_name, relation_type FROM relations WHERE from_name IN (SELECT value FROM json_each(?1))
      UNION
      SELECT id, from_name, to_name, relation_type FROM relations WHERE to_name IN (SELECT value FROM json_each(?1))
      ORDER BY id`),
    relationsPage: s(`
      SELECT id, from_name, to_name, relation_type FROM (
        SELECT id, from_name, to_name, relation_type FROM relations WHERE from_name = ?1
        UNION
        SELECT id, from_name, to_name, relation_type FROM relations WHERE to_name = ?2
      ) ORDER BY id LIMIT ?3 OFFSET ?4`),
    countFrom: s("SELECT count(*) AS n FROM relations WHERE from_name = ?"),
    countTo: s("SELECT count(*) AS n FROM relations WHERE to_name = ?"),
    allRelations: s("SELECT id, from_name, to_name, relation_type FROM relations ORDER BY id"),
    entitiesWithObservations: s(`
      SELECT e.id, e.name, e.entity_type, o.content FROM entities e
      LEFT JOIN observations o ON o.entity_id = e.id
      ORDER BY e.id, o.id`),
    entityPage: s("SELECT id, name, entity_type FROM entities ORDER BY id LIMIT ? OFFSET ?"),
    counts: s(`SELECT (SELECT count(*) FROM entities) AS entities, (SELECT count(*) FROM observations) AS observations,
                      (SELECT count(*) FROM relations) AS relations`),
  };
}
