import { Database, type Statement } from "bun:sqlite";

export interface Entity {
  name: string;
  entityType: string;
  observations: string[];
}
export interface Relation {
  from: string;
  to: string;
  relationType: string;
}
export interface KnowledgeGraph {
  entities: Entity[];
  relations: Relation[];
}
export interface ObservationAdd {
  entityName: string;
  contents: string[];
}
export interface ObservationDelete {
  entityName: string;
  observations: string[];
}

/** Thrown for the error cases the official server reports; its message is what the official server says. */
export class GraphError extends Error {}

/** How long a write waits for another process's transaction (several daemons or tools may share a file). */
export const BUSY_TIMEOUT_MS = 10_000;

/*
 * Rows are ordered by rowid everywhere, which reproduces the official server's file order: entities, observations
 * and relations appear in the order they were first created, a re-created thing goes to the end.
 *
 * Relations name their endpoints instead of pointing at entity ids because the official server accepts relations
 * between entities that do not exist (and keeps them until an endpoint is deleted).
 *
 * `*_lc` columns hold JavaScript's toLowerCase() of the text: SQLite's lower() folds ASCII only, and search must match
 * exactly what the official server's `toLowerCase().includes()` matches.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS entities (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  entity_type TEXT NOT NULL,
  name_lc TEXT NOT NULL,
  type_lc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
  id INTEGER PRIMARY KEY,
  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
  content TEXT NOT NULL,
  content_lc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (entity_id, content)
);
CREATE TABLE IF NOT EXISTS relations (
  id INTEGER PRIMARY KEY,
  from_name TEXT NOT NULL,
  to_name TEXT NOT NULL,
  relation_type TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (from_name, to_name, relation_type)
);
CREATE INDEX IF NOT EXISTS relations_to ON relations (to_name);
`;

export class GraphStore {
  readonly db: Database;
  private readonly q: ReturnType<typeof prepare>;

  constructor(readonly file: string) {
    this.db = new Database(file, { create: true, strict: true });
    this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = ON");
    this.db.exec(SCHEMA);
    this.q = prepare(this.db);
  }

  close(): void {
    this.db.close();
  }

  /**
   * One IMMEDIATE transaction per call: the write lock is taken up front, so concurrent writers queue on the busy
   * timeout instead of failing with SQLITE_BUSY halfway through a read-then-write.
   */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  createEntities(entities: Entity[]): Entity[] {
    return this.write(() => {
      const created: Entity[] = [];
      const now = Date.now();
      for (const entity of entities) {
        if (this.q.entityId.get(entity.name)) continue;
        const row = this.q.insertEntity.get(entity.name, entity.entityType, entity.name.toLowerCase(), entity.entityType.toLowerCase(), now, now) as { id: number };
        const stored: string[] = [];
        for (const content of entity.observations) {
          if (this.q.insertObservation.run(row.id, content, content.toLowerCase(), now).changes > 0) stored.push(content);
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

  addObservations(additions: ObservationAdd[]): { entityName: string; addedObservations: string[] }[] {
    return this.write(() => {
      const now = Date.now();
      return additions.map((o) => {
        const row = this.q.entityId.get(o.entityName) as { id: number } | null;
        // Throwing inside the transaction rolls back everything this call wrote, as the official server saves nothing.
        if (!row) throw new GraphError(`Entity with name ${o.entityName} not found`);
        const added: string[] = [];
        for (const content of o.contents) {
          if (this.q.insertObservation.run(row.id, content, content.toLowerCase(), now).changes > 0) added.push(content);
        }
        if (added.length) this.q.touchEntity.run(now, row.id);
        return { entityName: o.entityName, addedObservations: added };
      });
    });
  }

  deleteEntities(names: string[]): void {
    this.write(() => {
      for (const name of names) {
        this.q.deleteEntity.run(name);
        this.q.deleteRelationsOf.run(name, name);
      }
    });
  }

  deleteObservations(deletions: ObservationDelete[]): void {
    this.write(() => {
      const now = Date.now();
      for (const d of deletions) {
        const row = this.q.entityId.get(d.entityName) as { id: number } | null;
        if (!row) continue;
        for (const content of d.observations) this.q.deleteObservation.run(row.id, content);
        this.q.touchEntity.run(now, row.id);
      }
    });
  }

  deleteRelations(relations: Relation[]): void {
    this.write(() => {
      for (const r of relations) this.q.deleteRelation.run(r.from, r.to, r.relationType);
    });
  }

  readGraph(): KnowledgeGraph {
    return this.db.transaction(() => ({
      entities: this.entitiesFrom(this.q.allEntities.all() as EntityRow[]),
      relations: (this.q.allRelations.all() as RelationRow[]).map(toRelation),
    }))();
  }

  /** Case-insensitive substring match over name, type and observations, like the official server. */
  searchNodes(query: string): KnowledgeGraph {
    const needle = query.toLowerCase();
    return this.db.transaction(() => this.subgraph(this.q.searchEntities.all(needle, needle, needle) as EntityRow[]))();
  }

  openNodes(names: string[]): KnowledgeGraph {
    return this.db.transaction(() => {
      const wanted = new Set(names);
      const rows: EntityRow[] = [];
      for (const name of wanted) {
        const row = this.q.entityByName.get(name) as EntityRow | null;
        if (row) rows.push(row);
      }
      rows.sort((a, b) => a.id - b.id);
      return this.subgraph(rows);
    })();
  }

  /** The given entities plus every relation with at least one endpoint among them, in creation order. */
  private subgraph(rows: EntityRow[]): KnowledgeGraph {
    const names = new Set(rows.map((r) => r.name));
    const relations = new Map<number, RelationRow>();
    for (const name of names) {
      for (const rel of this.q.relationsOf.all(name, name) as RelationRow[]) relations.set(rel.id, rel);
    }
    return {
      entities: this.entitiesFrom(rows),
      relations: [...relations.values()].sort((a, b) => a.id - b.id).map(toRelation),
    };
  }

  private entitiesFrom(rows: EntityRow[]): Entity[] {
    return rows.map((row) => ({
      name: row.name,
      entityType: row.entity_type,
      observations: (this.q.observationsOf.all(row.id) as { content: string }[]).map((o) => o.content),
    }));
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

function prepare(db: Database) {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    entityId: s("SELECT id FROM entities WHERE name = ?"),
    entityByName: s("SELECT id, name, entity_type FROM entities WHERE name = ?"),
    insertEntity: s(
      "INSERT INTO entities (name, entity_type, name_lc, type_lc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    ),
    touchEntity: s("UPDATE entities SET updated_at = ? WHERE id = ?"),
    deleteEntity: s("DELETE FROM entities WHERE name = ?"),
    insertObservation: s(
      "INSERT OR IGNORE INTO observations (entity_id, content, content_lc, created_at) VALUES (?, ?, ?, ?)",
    ),
    deleteObservation: s("DELETE FROM observations WHERE entity_id = ? AND content = ?"),
    observationsOf: s("SELECT content FROM observations WHERE entity_id = ? ORDER BY id"),
    insertRelation: s(
      "INSERT OR IGNORE INTO relations (from_name, to_name, relation_type, created_at) VALUES (?, ?, ?, ?)",
    ),
    deleteRelation: s("DELETE FROM relations WHERE from_name = ? AND to_name = ? AND relation_type = ?"),
    deleteRelationsOf: s("DELETE FROM relations WHERE from_name = ? OR to_name = ?"),
    relationsOf: s("SELECT id, from_name, to_name, relation_type FROM relations WHERE from_name = ? OR to_name = ?"),
    allEntities: s("SELECT id, name, entity_type FROM entities ORDER BY id"),
    allRelations: s("SELECT id, from_name, to_name, relation_type FROM relations ORDER BY id"),
    searchEntities: s(`
      SELECT id, name, entity_type FROM entities e
      WHERE instr(e.name_lc, ?) > 0 OR instr(e.type_lc, ?) > 0
         OR EXISTS (SELECT 1 FROM observations o WHERE o.entity_id = e.id AND instr(o.content_lc, ?) > 0)
      ORDER BY id`),
  };
}
