import type { Database, Statement } from "bun:sqlite";
import { termCounts } from "../../lib/text/index.ts";
import type { EntityPosting, Need, PostingRow, RecallStats } from "../recall.ts";

const MAX_PENDING_POSTINGS = 100_000;

/**
 * The SQLite side of `recall` (tables in schema.ts): writes an observation's and an entity's terms in the caller's
 * transaction, and answers the ranking's needs (recall.ts) with plain indexed reads. Statements are prepared on
 * first use, so a read-only store on an older file (the explorer's) never touches tables it lacks.
 */
export class RecallIndex {
  private statements: ReturnType<typeof prepare> | undefined;
  /**
   * The current write's postings and document-frequency increments, stored by `flush` sorted by term: a bulk write
   * then fills each term's part of the index in one pass instead of jumping around it.
   */
  private pendingPostings: [term: string, id: number, entity: number, tf: number, length: number][] = [];
  private readonly pendingDf = new Map<string, number>();
  private readonly pendingEntityDf = new Map<string, number>();

  /** `rowCounts`: how many observations and entities the tables hold (cheaply: the search index counts them). */
  constructor(
    private readonly db: Database,
    private readonly rowCounts: () => { observations: number; entities: number },
  ) {}

  private get q() {
    this.statements ??= prepare(this.db);
    return this.statements;
  }

  /** Indexes one stored observation (its id, entity and text). */
  indexObservation(id: number, entityId: number, content: string): void {
    const { counts, length } = termCounts(content);
    this.q.insertDoc.run(id, entityId, length, JSON.stringify([...counts.keys()]));
    for (const [term, tf] of counts) {
      this.pendingPostings.push([term, id, entityId, tf, length]);
      this.pendingDf.set(term, (this.pendingDf.get(term) ?? 0) + 1);
    }
    // A huge write (an import, the upgrade of a big file) is stored in slices, so what waits stays small.
    if (this.pendingPostings.length >= MAX_PENDING_POSTINGS) this.flush();
  }

  /** Indexes an entity's name and type as one short text (after a rename the triggers dropped the old terms). */
  indexEntity(id: number, name: string, entityType: string): void {
    const { counts, length } = termCounts(`${name} ${entityType}`);
    this.q.insertEntity.run(id, length, JSON.stringify([...counts.keys()]));
    for (const [term, tf] of counts) {
      this.q.insertEntityPosting.run(term, id, tf, length);
      this.pendingEntityDf.set(term, (this.pendingEntityDf.get(term) ?? 0) + 1);
    }
  }

  /** Adds the write's document frequencies; call before its transaction commits (`discard` if it will not). */
  flush(): void {
    this.pendingPostings.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    for (const p of this.pendingPostings) this.q.insertPosting.run(...p);
    for (const [term, n] of this.pendingDf) this.q.addDf.run(term, n);
    for (const [term, n] of this.pendingEntityDf) this.q.addEntityDf.run(term, n);
    this.discard();
  }

  discard(): void {
    this.pendingPostings = [];
    this.pendingDf.clear();
    this.pendingEntityDf.clear();
  }

  /** Whether every observation and entity is indexed (the index never holds rows that are gone: see schema.ts). */
  complete(): boolean {
    const stats = this.q.stats.get() as { docs: number; entities: number };
    const counts = this.rowCounts();
    return stats.docs === counts.observations && stats.entities === counts.entities;
  }

  /** Indexes the rows some other writer (an older msm, a sqlite3 shell) stored without indexing. Call in a write. */
  catchUp(): void {
    // Read row by row (a big file's observations need not fit in memory); the inserts touch other tables.
    for (const row of this.q.unindexedObservations.iterate() as IterableIterator<{ id: number; entity_id: number; content: string }>) {
      this.indexObservation(row.id, row.entity_id, row.content);
    }
    for (const row of this.q.unindexedEntities.all() as { id: number; name: string; entity_type: string }[]) {
      this.indexEntity(row.id, row.name, row.entity_type);
    }
  }

  /** Answers one need of recallPlan. */
  answer(need: Need): unknown {
    const q = this.q;
    switch (need.kind) {
      case "stats": {
        const row = q.stats.get() as { docs: number; length: number; entities: number; entity_length: number };
        const list = JSON.stringify(need.terms);
        const df = new Map((q.termDf.values(list) as [string, number][]).map(([t, n]) => [t, n]));
        const entityDf = new Map((q.entityTermDf.values(list) as [string, number][]).map(([t, n]) => [t, n]));
        return { docs: row.docs, length: row.length, entities: row.entities, entityLength: row.entity_length, df, entityDf } satisfies RecallStats;
      }
      case "entitiesOfTypes":
        return (q.entitiesOfTypes.values(JSON.stringify(need.types)) as [number][]).map(([id]) => id);
      case "postings":
        return q.postings.values(need.term) as PostingRow[];
      case "lookups":
        return q.lookup.values(need.term, JSON.stringify(need.docs)) as PostingRow[];
      case "entityPostings":
        return (q.entityPostings.values(JSON.stringify(need.terms)) as [string, number, number, number][]).map(
          ([term, entity, tf, length]): EntityPosting => ({ term, entity, tf, length }),
        );
      case "windows": {
        const out = new Map<number, { before: number[]; after: number[] }>();
        for (const { doc, entity } of need.docs) {
          out.set(doc, {
            before: (q.before.values(entity, doc, need.span) as [number][]).map(([id]) => id),
            after: (q.after.values(entity, doc, need.span) as [number][]).map(([id]) => id),
          });
        }
        return out;
      }
      case "latest": {
        const out = new Map<number, number[]>();
        for (const entity of need.entities)
          out.set(
            entity,
            (q.latest.values(entity, need.per) as [number][]).map(([id]) => id),
          );
        return out;
      }
      case "times":
        return new Map(q.times.values(JSON.stringify(need.docs)) as [number, number][]);
      case "rows": {
        const out = new Map<number, { observation: string; entity: string; entityType: string }>();
        for (const [id, observation, entity, entityType] of q.rows.values(JSON.stringify(need.docs)) as [number, string, string, string][]) {
          out.set(id, { observation, entity, entityType });
        }
        return out;
      }
    }
  }
}

function prepare(db: Database) {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    insertDoc: s("INSERT INTO recall_docs (observation_id, entity_id, length, terms) VALUES (?, ?, ?, ?)"),
    insertPosting: s("INSERT INTO recall_postings (term, observation_id, entity_id, tf, length) VALUES (?, ?, ?, ?, ?)"),
    insertEntity: s("INSERT INTO recall_entities (entity_id, length, terms) VALUES (?, ?, ?)"),
    insertEntityPosting: s("INSERT INTO recall_entity_postings (term, entity_id, tf, length) VALUES (?, ?, ?, ?)"),
    addDf: s("INSERT INTO recall_terms (term, df) VALUES (?1, ?2) ON CONFLICT (term) DO UPDATE SET df = df + ?2"),
    addEntityDf: s("INSERT INTO recall_entity_terms (term, df) VALUES (?1, ?2) ON CONFLICT (term) DO UPDATE SET df = df + ?2"),
    stats: s("SELECT docs, length, entities, entity_length FROM recall_stats WHERE id = 1"),
    unindexedObservations: s(
      "SELECT o.id, o.entity_id, o.content FROM observations o WHERE NOT EXISTS (SELECT 1 FROM recall_docs d WHERE d.observation_id = o.id) ORDER BY o.id",
    ),
    unindexedEntities: s(
      "SELECT e.id, e.name, e.entity_type FROM entities e WHERE NOT EXISTS (SELECT 1 FROM recall_entities r WHERE r.entity_id = e.id) ORDER BY e.id",
    ),
    termDf: s("SELECT term, df FROM recall_terms WHERE term IN (SELECT value FROM json_each(?))"),
    entityTermDf: s("SELECT term, df FROM recall_entity_terms WHERE term IN (SELECT value FROM json_each(?))"),
    entitiesOfTypes: s("SELECT id FROM entities WHERE type_lc IN (SELECT value FROM json_each(?)) ORDER BY id"),
    postings: s("SELECT observation_id, entity_id, tf, length FROM recall_postings WHERE term = ?"),
    lookup: s("SELECT observation_id, entity_id, tf, length FROM recall_postings WHERE term = ?1 AND observation_id IN (SELECT value FROM json_each(?2))"),
    entityPostings: s("SELECT term, entity_id, tf, length FROM recall_entity_postings WHERE term IN (SELECT value FROM json_each(?))"),
    before: s("SELECT observation_id FROM recall_docs WHERE entity_id = ?1 AND observation_id < ?2 ORDER BY observation_id DESC LIMIT ?3"),
    after: s("SELECT observation_id FROM recall_docs WHERE entity_id = ?1 AND observation_id > ?2 ORDER BY observation_id LIMIT ?3"),
    latest: s("SELECT observation_id FROM recall_docs WHERE entity_id = ?1 ORDER BY observation_id DESC LIMIT ?2"),
    times: s("SELECT id, created_at FROM observations WHERE id IN (SELECT value FROM json_each(?))"),
    rows: s(`SELECT o.id, o.content, e.name, e.entity_type FROM observations o JOIN entities e ON e.id = o.entity_id
             WHERE o.id IN (SELECT value FROM json_each(?))`),
  };
}
