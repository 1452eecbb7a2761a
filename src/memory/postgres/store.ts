import { SQL } from "bun";
import { randomUUID } from "node:crypto";
import type { ImportCounts, Direction } from "../types.ts";
import type { ProjectIdentity } from "./project-id.ts";
import { redact, type PgTarget } from "./url.ts";
import { ensureSchema } from "./schema.ts";
import { answerNeed, catchUp, indexEntities, indexObservations, RecallIncomplete } from "./recall.ts";
import { recallPlan, runRecall, type RecallOptions, type RecallResult } from "../recall.ts";
import {
  GraphError,
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

/*
 * The knowledge graph in PostgreSQL: one database holds many projects (rows carry their project), so a team points
 * every machine at one server and each repository sees its own graph. It mirrors store.ts call for call so answers
 * are the same: rows ordered by id (creation order), relations naming their endpoints, `*_lc` columns holding
 * JavaScript's toLowerCase() (PostgreSQL's lower() folds by collation, not like JS), and substring search as
 * `LIKE '%q%'` over those columns, indexed with pg_trgm GIN indexes (tables in schema.ts).
 *
 * Every call is one SERIALIZABLE transaction, retried when PostgreSQL reports a conflict with another
 * writer (eight daemons on eight machines may write the same project at once).
 */

/** FTS5's BM25 constants, as search.ts uses them for SQLite. */
const BM25_K1 = 1.2;
const BM25_B = 0.75;

/** Connections per daemon: enough for a few concurrent calls, small enough that eight machines × N daemons fit. */
export const PG_POOL_MAX = 4;
const CONNECT_TIMEOUT_S = 5;
const IDLE_TIMEOUT_S = 60;
/** Serialization conflicts are retried this often (with growing, jittered waits) before the call fails. */
const MAX_CONFLICT_RETRIES = 30;
/** A pooled connection the server closed (restart) fails once; a retry takes a fresh one. */
const MAX_CONNECTION_RETRIES = 2;

type Tx = SQL;
type Sql = SQL;

interface PgError {
  code?: string;
  errno?: string;
  message?: string;
}

function sqlState(error: unknown): string {
  const e = error as PgError;
  return typeof e?.errno === "string" ? e.errno : "";
}

function isConflict(error: unknown): boolean {
  return ["40001", "40P01", "23505"].includes(sqlState(error));
}

function isConnectionProblem(error: unknown): boolean {
  const state = sqlState(error);
  const code = String((error as PgError)?.code ?? "");
  return state.startsWith("08") || ["57P01", "57P02", "57P03"].includes(state) || /CONNECTION|TIMEOUT|ECONN|ENOTFOUND|EAI_|TLS|SSL/i.test(code);
}

/**
 * The LISTEN/NOTIFY channel of a project: every write transaction notifies it (delivered on commit), so daemons on
 * other machines tell their subscribed sessions. A hash, because a project key (a git origin, a path) can be longer
 * than the 63 bytes a channel name may have.
 */
export function changeChannel(projectKey: string): string {
  return `msm_changed_${new Bun.CryptoHasher("sha256").update(projectKey).digest("hex").slice(0, 40)}`;
}

/** One PostgreSQL server: a bounded pool, the schema, project ids and the retry rules. Shared by every project. */
export class PgServer {
  /** Sent with this process's change notifications, so it can skip its own (its sessions were told already). */
  readonly origin = randomUUID();
  private readonly sql: Sql;
  private ready: Promise<void> | undefined;
  private readonly projects = new Map<string, Promise<string>>();

  constructor(
    readonly target: PgTarget,
    options: { max?: number } = {},
  ) {
    this.sql = new SQL({
      hostname: target.hostname,
      port: target.port,
      username: target.username,
      password: target.password,
      database: target.database,
      tls: target.sslmode as never,
      max: options.max ?? PG_POOL_MAX,
      connectionTimeout: CONNECT_TIMEOUT_S,
      idleTimeout: IDLE_TIMEOUT_S,
    });
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 1 }).catch(() => {});
  }

  /** Creates or upgrades the tables once per daemon; a failure is retried on the next call (the server may come back). */
  private schema(): Promise<void> {
    this.ready ??= ensureSchema(this.sql, this.target.display).catch((error) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** The row id of a project key, created on first use. */
  projectRow(key: string): Promise<string> {
    let id = this.projects.get(key);
    if (!id) {
      id = this.run("write", async (tx) => {
        await tx`INSERT INTO msm_projects (key, created_at) VALUES (${key}, ${Date.now()}) ON CONFLICT (key) DO NOTHING`;
        const [row] = await tx`SELECT id FROM msm_projects WHERE key = ${key}`;
        return String(row.id);
      }).catch((error) => {
        this.projects.delete(key);
        throw error;
      });
      this.projects.set(key, id);
    }
    return id;
  }

  /** Runs `fn` as one transaction, retrying conflicts and a dropped connection; failures become clear errors. */
  async run<T>(kind: "read" | "write", fn: (tx: Tx) => Promise<T>): Promise<T> {
    let conflicts = 0;
    let reconnects = 0;
    for (;;) {
      try {
        await this.schema();
        const mode = kind === "write" ? "isolation level serializable" : "isolation level repeatable read read only";
        return (await this.sql.begin(mode, (tx) => fn(tx as unknown as Tx))) as T;
      } catch (error) {
        if (error instanceof GraphError) throw error;
        if (isConflict(error) && conflicts++ < MAX_CONFLICT_RETRIES) {
          await Bun.sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(conflicts, 6)));
          continue;
        }
        if (isConnectionProblem(error) && reconnects++ < MAX_CONNECTION_RETRIES) {
          await Bun.sleep(100 * reconnects);
          continue;
        }
        throw this.explain(error);
      }
    }
  }

  /** A failure as the user should read it: which server (never the password), what happened, what to check. */
  explain(error: unknown): Error {
    const e = error as PgError;
    const state = sqlState(error);
    const detail = redact(String(e?.message ?? error), this.target);
    const where = `the memory database ${this.target.display}`;
    const setting = "targets.memory.database in config.json (or MSM_MEMORY_DATABASE_URL)";
    let message: string;
    if (state === "28P01" || state === "28000") {
      message = `${where} refused the login for user ${this.target.username} (${detail}). Check the password (in the URL, PGPASSWORD or ~/.pgpass) and pg_hba.conf on the server.`;
    } else if (state === "3D000") {
      message = `${where} does not exist (${detail}). Create it (createdb ${this.target.database}) or fix ${setting}.`;
    } else if (state === "42501" || /pg_trgm/.test(detail)) {
      message = `${where} refused to set up msm's tables (${detail}). The user needs CREATE on the database, and pg_trgm must be available (as a superuser: CREATE EXTENSION pg_trgm;).`;
    } else if (isConnectionProblem(error)) {
      message = `Cannot reach ${where} (${detail}${e?.code ? `, ${e.code}` : ""}). Check that PostgreSQL is running on ${this.target.hostname}:${this.target.port} and reachable from this machine, and ${setting}; calls work again as soon as it is back.`;
    } else {
      message = `${where} failed: ${detail}.`;
    }
    return new GraphError(message);
  }

  /**
   * Calls `changed` with the writer's origin whenever another process commits a write to the project behind
   * `channel`. Resolves once the server acknowledged the LISTEN; Bun keeps it on one dedicated connection (outside
   * the pool) and re-subscribes after a reconnect.
   */
  async listen(channel: string, changed: (origin: string) => void): Promise<void> {
    await this.sql.listen(channel, (payload) => {
      if (payload !== this.origin) changed(payload);
    });
  }

  /**
   * Every project with its entity and relation counts, for the dashboard's explorer. Read only: a database msm never
   * wrote to lists nothing (its tables are not created for a look), and the rows' ids are remembered so browsing a
   * project inserts no project row (an older schema is still upgraded on the first search, as a daemon would).
   */
  async projectList(): Promise<{ key: string; entities: number; relations: number }[]> {
    const rows = await this.sql.begin("isolation level repeatable read read only", async (tx) => {
      const [exists] = await tx`SELECT to_regclass('msm_projects') IS NOT NULL AS ok`;
      if (!exists.ok) return [];
      return await tx`
        SELECT p.id, p.key,
               (SELECT count(*) FROM msm_entities e WHERE e.project = p.id)::float8 AS entities,
               (SELECT count(*) FROM msm_relations r WHERE r.project = p.id)::float8 AS relations
          FROM msm_projects p ORDER BY p.id`;
    });
    for (const row of rows as { id: string; key: string }[]) if (!this.projects.has(row.key)) this.projects.set(row.key, Promise.resolve(String(row.id)));
    return (rows as { key: string; entities: number; relations: number }[]).map((r) => ({ key: r.key, entities: r.entities, relations: r.relations }));
  }

  /** Every project key stored, with entity counts (for `msm memory migrate` and tests). */
  async projectKeys(): Promise<string[]> {
    return this.run("read", async (tx) => (await tx`SELECT key FROM msm_projects ORDER BY id`).map((r: { key: string }) => r.key));
  }
}

interface EntityRow {
  id: string;
  name: string;
  entity_type: string;
}
interface RelationRow {
  id: string;
  from_name: string;
  to_name: string;
  relation_type: string;
}

const toRelation = (r: RelationRow): Relation => ({ from: r.from_name, to: r.to_name, relationType: r.relation_type });

/** `%q%` with LIKE's own characters escaped, so the query is matched as plain text. */
function likePattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** First occurrence of each item in input order, kept when `stored` has it: what a row-by-row insert would report. */
function inInputOrder<T>(items: T[], key: (item: T) => string, stored: Set<string>): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k) || !stored.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const relKey = (r: { from: string; to: string; relationType: string }) => JSON.stringify([r.from, r.to, r.relationType]);

/** One project's graph on a PostgreSQL server: the same calls as GraphStore, each one transaction. */
export class PgGraph {
  /** Identifies the graph for resource subscriptions (no password in it). */
  readonly file: string;
  readonly channel: string;
  private listening: Promise<void> | undefined;

  constructor(
    readonly server: PgServer,
    readonly identity: ProjectIdentity,
  ) {
    this.file = `${server.target.display}#${identity.id}`;
    this.channel = changeChannel(identity.id);
  }

  close(): void {}

  /** Every write tells the project's channel on commit (a rolled-back one tells nobody). */
  private write<T>(fn: (tx: Tx, project: string) => Promise<T>): Promise<T> {
    return this.server.projectRow(this.identity.id).then((project) =>
      this.server.run("write", async (tx) => {
        const result = await fn(tx, project);
        await tx`SELECT pg_notify(${this.channel}, ${this.server.origin})`;
        return result;
      }),
    );
  }

  /**
   * Calls `changed` when another daemon (another machine) or `msm memory import` changes this project. Listening
   * starts once per graph; a failure (server down) is retried by the next subscriber.
   */
  follow(changed: (origin: string) => void): Promise<void> {
    this.listening ??= this.server.listen(this.channel, changed).catch((error) => {
      this.listening = undefined;
      throw this.server.explain(error);
    });
    return this.listening;
  }

  private read<T>(fn: (tx: Tx, project: string) => Promise<T>): Promise<T> {
    return this.server.projectRow(this.identity.id).then((project) => this.server.run("read", (tx) => fn(tx, project)));
  }

  private async entityId(tx: Tx, project: string, name: string): Promise<string | undefined> {
    const [row] = await tx`SELECT id FROM msm_entities WHERE project = ${project} AND name = ${name}`;
    return row ? String(row.id) : undefined;
  }

  /** Inserts observations in order; returns those actually added (first occurrence, in input order). */
  private async insertObservations(tx: Tx, project: string, entityId: string, contents: string[], now: number): Promise<string[]> {
    if (contents.length === 0) return [];
    const rows = await tx`
      INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at)
      SELECT ${entityId}::bigint, ${project}::bigint, c, lc, ${now}::bigint
        FROM unnest(${contents}::text[], ${contents.map((c) => c.toLowerCase())}::text[]) WITH ORDINALITY AS u(c, lc, n) ORDER BY n
      ON CONFLICT (entity_id, md5(content)) DO NOTHING RETURNING id, content`;
    await indexObservations(
      tx,
      project,
      rows.map((r: { id: string; content: string }) => ({ id: r.id, entity: entityId, content: r.content })),
    );
    return inInputOrder(contents, (c) => c, new Set<string>(rows.map((r: { content: string }) => r.content)));
  }

  private async insertEntity(tx: Tx, project: string, entity: Entity, now: number): Promise<string | undefined> {
    const [row] = await tx`
      INSERT INTO msm_entities (project, name, entity_type, name_lc, type_lc, created_at, updated_at)
      VALUES (${project}, ${entity.name}, ${entity.entityType}, ${entity.name.toLowerCase()}, ${entity.entityType.toLowerCase()}, ${now}, ${now})
      ON CONFLICT (project, name) DO NOTHING RETURNING id`;
    if (!row) return undefined;
    await indexEntities(tx, project, [{ id: row.id, name: entity.name, entityType: entity.entityType }]);
    return String(row.id);
  }

  private async insertRelations(tx: Tx, project: string, relations: Relation[], now: number): Promise<Relation[]> {
    if (relations.length === 0) return [];
    const rows = await tx`
      INSERT INTO msm_relations (project, from_name, to_name, relation_type, created_at)
      SELECT ${project}::bigint, f, t, ty, ${now}::bigint
        FROM unnest(${relations.map((r) => r.from)}::text[], ${relations.map((r) => r.to)}::text[], ${relations.map((r) => r.relationType)}::text[])
        WITH ORDINALITY AS u(f, t, ty, n) ORDER BY n
      ON CONFLICT (project, from_name, to_name, relation_type) DO NOTHING RETURNING from_name, to_name, relation_type`;
    const stored = new Set<string>(rows.map((r: RelationRow) => relKey(toRelation(r))));
    return inInputOrder(relations, relKey, stored).map((r) => ({ from: r.from, to: r.to, relationType: r.relationType }));
  }

  createEntities(entities: Entity[]): Promise<Entity[]> {
    return this.write(async (tx, project) => {
      const created: Entity[] = [];
      const now = Date.now();
      for (const entity of entities) {
        const id = await this.insertEntity(tx, project, entity, now);
        if (id === undefined) continue;
        const stored = await this.insertObservations(tx, project, id, entity.observations, now);
        created.push({ name: entity.name, entityType: entity.entityType, observations: stored });
      }
      return created;
    });
  }

  createRelations(relations: Relation[]): Promise<Relation[]> {
    return this.write((tx, project) => this.insertRelations(tx, project, relations, Date.now()));
  }

  addObservations(additions: ObservationAdd[]): Promise<ObservationAddResult[]> {
    return this.write(async (tx, project) => {
      const now = Date.now();
      const results: ObservationAddResult[] = [];
      for (const o of additions) {
        const id = await this.entityId(tx, project, o.entityName);
        if (id === undefined) throw new GraphError(`Entity with name ${o.entityName} not found`);
        const added = await this.insertObservations(tx, project, id, o.contents, now);
        if (added.length) await tx`UPDATE msm_entities SET updated_at = ${now} WHERE id = ${id}`;
        results.push({ entityName: o.entityName, addedObservations: added });
      }
      return results;
    });
  }

  deleteEntities(names: string[]): Promise<void> {
    return this.write(async (tx, project) => {
      if (names.length === 0) return;
      await tx`DELETE FROM msm_entities WHERE project = ${project} AND name = ANY(${names}::text[])`;
      await tx`DELETE FROM msm_relations WHERE project = ${project} AND from_name = ANY(${names}::text[])`;
      await tx`DELETE FROM msm_relations WHERE project = ${project} AND to_name = ANY(${names}::text[])`;
    });
  }

  deleteObservations(deletions: ObservationDelete[]): Promise<void> {
    return this.write(async (tx, project) => {
      const now = Date.now();
      for (const d of deletions) {
        const id = await this.entityId(tx, project, d.entityName);
        if (id === undefined || d.observations.length === 0) continue;
        const removed =
          await tx`DELETE FROM msm_observations WHERE entity_id = ${id} AND md5(content) = ANY(SELECT md5(x) FROM unnest(${d.observations}::text[]) AS x) AND content = ANY(${d.observations}::text[]) RETURNING id`;
        if (removed.length) await tx`UPDATE msm_entities SET updated_at = ${now} WHERE id = ${id}`;
      }
    });
  }

  deleteRelations(relations: Relation[]): Promise<void> {
    return this.write(async (tx, project) => {
      if (relations.length === 0) return;
      await tx`
        DELETE FROM msm_relations r USING unnest(${relations.map((x) => x.from)}::text[], ${relations.map((x) => x.to)}::text[], ${relations.map((x) => x.relationType)}::text[]) AS d(f, t, ty)
        WHERE r.project = ${project} AND r.from_name = d.f AND r.to_name = d.t AND r.relation_type = d.ty`;
    });
  }

  readGraph(page: Page = {}): Promise<KnowledgeGraph> {
    return this.read(async (tx, project) => {
      if (page.limit === undefined && !page.offset) {
        const rows = (await tx`SELECT id, name, entity_type FROM msm_entities WHERE project = ${project} ORDER BY id`) as EntityRow[];
        const relations = (await tx`SELECT id, from_name, to_name, relation_type FROM msm_relations WHERE project = ${project} ORDER BY id`) as RelationRow[];
        return { entities: await this.withObservations(tx, project, rows, true), relations: relations.map(toRelation) };
      }
      const rows =
        (await tx`SELECT id, name, entity_type FROM msm_entities WHERE project = ${project} ORDER BY id LIMIT ${page.limit ?? null} OFFSET ${page.offset ?? 0}`) as EntityRow[];
      return this.subgraph(tx, project, rows);
    });
  }

  /**
   * The same match set as GraphStore.searchNodes (the query lower-cased by JavaScript, matched as a substring of the
   * lower-cased name, type or any observation) in the same order: an exact name, then names containing the query, then
   * type matches, then observation matches by BM25 — the very expression search.ts gives SQLite (same operations in
   * the same order on float8, so the same doubles), with the average document length from msm_observation_stats where
   * SQLite reads FTS5's. Ties go to the older entity, as there.
   */
  searchNodes(query: string, page: Page = {}): Promise<KnowledgeGraph> {
    const needle = query.toLowerCase();
    const limit = page.limit ?? null;
    const offset = page.offset ?? 0;
    return this.read(async (tx, project) => {
      let rows: EntityRow[];
      if (needle === "") {
        rows = (await tx`SELECT id, name, entity_type FROM msm_entities WHERE project = ${project} ORDER BY id LIMIT ${limit} OFFSET ${offset}`) as EntityRow[];
      } else {
        const pattern = likePattern(needle);
        // Each hit carries its tier (0 exact name, 1 name containing the query, 2 type or observation), so the
        // order is settled on the hits and only the page's rows are joined back to their entities (a common word
        // matches tens of thousands).
        rows = (await tx`
          WITH stats AS (
            SELECT coalesce(sum(row_count), 0)::float8 AS n, coalesce(sum(token_count), 0)::float8 AS tokens
              FROM msm_observation_stats WHERE project = ${project}
          ), avg AS (
            SELECT CASE WHEN n > 0 AND tokens > 0 THEN tokens / n ELSE 1::float8 END AS dl FROM stats
          ), matched AS (
            SELECT o.entity_id, (length(o.content_lc) - length(replace(o.content_lc, ${needle}, '')))::float8 / length(${needle}) AS tf,
                   greatest(length(o.content_lc) - 2, 1) AS dl
              FROM msm_observations o WHERE o.project = ${project} AND o.content_lc LIKE ${pattern}
          ), hits (id, tier, score) AS (
            SELECT id, CASE WHEN name_lc = ${needle} THEN 0 WHEN strpos(name_lc, ${needle}) > 0 THEN 1 ELSE 2 END, -1e300::float8
              FROM msm_entities WHERE project = ${project} AND (name_lc LIKE ${pattern} OR type_lc LIKE ${pattern})
            UNION ALL
            SELECT m.entity_id, 2, -(m.tf * ${BM25_K1 + 1}::float8) / (m.tf + ${BM25_K1}::float8 * (${1 - BM25_B}::float8 + ${BM25_B}::float8 * m.dl / avg.dl))
              FROM matched m, avg
          ), page AS (
            SELECT id, min(tier) AS tier, min(score) AS score FROM hits GROUP BY id
            ORDER BY tier, score, id LIMIT ${limit} OFFSET ${offset}
          )
          SELECT e.id, e.name, e.entity_type FROM page JOIN msm_entities e ON e.id = page.id
          ORDER BY page.tier, page.score, page.id`) as EntityRow[];
      }
      return this.subgraph(tx, project, rows);
    });
  }

  openNodes(names: string[]): Promise<KnowledgeGraph> {
    return this.read(async (tx, project) => {
      const unique = [...new Set(names)];
      const rows = unique.length
        ? ((await tx`SELECT id, name, entity_type FROM msm_entities WHERE project = ${project} AND name = ANY(${unique}::text[]) ORDER BY id`) as EntityRow[])
        : [];
      return this.subgraph(tx, project, rows);
    });
  }

  stats(): Promise<MemoryStats> {
    return this.read(async (tx, project) => {
      const [row] = await tx`
        SELECT (SELECT count(*) FROM msm_entities WHERE project = ${project})::float8 AS entities,
               (SELECT count(*) FROM msm_observations WHERE project = ${project})::float8 AS observations,
               (SELECT count(*) FROM msm_relations WHERE project = ${project})::float8 AS relations,
               (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM msm_entities e WHERE project = ${project})::float8
             + (SELECT coalesce(sum(pg_column_size(o.*)), 0) FROM msm_observations o WHERE project = ${project})::float8
             + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM msm_relations r WHERE project = ${project})::float8 AS bytes`;
      return { database: this.file, entities: row.entities, observations: row.observations, relations: row.relations, bytes: row.bytes };
    });
  }

  renameEntity(oldName: string, newName: string): Promise<Entity> {
    return this.write(async (tx, project) => {
      const id = await this.entityId(tx, project, oldName);
      if (id === undefined) throw new GraphError(`Entity with name ${oldName} not found`);
      if (oldName !== newName) {
        if ((await this.entityId(tx, project, newName)) !== undefined) throw new GraphError(`Entity with name ${newName} already exists`);
        const [renamed] = await tx`
          UPDATE msm_entities SET name = ${newName}, name_lc = ${newName.toLowerCase()}, updated_at = ${Date.now()} WHERE id = ${id} RETURNING entity_type`;
        // The rename trigger dropped the old name's terms.
        await indexEntities(tx, project, [{ id, name: newName, entityType: renamed.entity_type }]);
        await this.repointRelations(tx, project, oldName, newName);
      }
      return this.entityById(tx, id);
    });
  }

  mergeEntities(sources: string[], target: string): Promise<Entity> {
    return this.write(async (tx, project) => {
      const targetId = await this.entityId(tx, project, target);
      if (targetId === undefined) throw new GraphError(`Entity with name ${target} not found`);
      const now = Date.now();
      for (const source of new Set(sources)) {
        if (source === target) continue;
        const sourceId = await this.entityId(tx, project, source);
        if (sourceId === undefined) throw new GraphError(`Entity with name ${source} not found`);
        // Each observation keeps the time it was first written: recall and the explorer show when a thing was learnt.
        const moved = await tx`
          INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at)
          SELECT ${targetId}::bigint, project, content, content_lc, created_at FROM msm_observations WHERE entity_id = ${sourceId} ORDER BY id
          ON CONFLICT (entity_id, md5(content)) DO NOTHING RETURNING id, content`;
        await indexObservations(
          tx,
          project,
          moved.map((r: { id: string; content: string }) => ({ id: r.id, entity: targetId, content: r.content })),
        );
        await this.repointRelations(tx, project, source, target);
        await tx`DELETE FROM msm_entities WHERE id = ${sourceId}`;
      }
      await tx`UPDATE msm_entities SET updated_at = ${now} WHERE id = ${targetId}`;
      return this.entityById(tx, targetId);
    });
  }

  entityDetails(name: string): Promise<EntityDetails | undefined> {
    return this.read(async (tx, project) => {
      const [row] =
        await tx`SELECT id, name, entity_type, created_at::float8 AS created_at, updated_at::float8 AS updated_at FROM msm_entities WHERE project = ${project} AND name = ${name}`;
      if (!row) return undefined;
      const [counts] = await tx`
        SELECT (SELECT count(*) FROM msm_relations WHERE project = ${project} AND from_name = ${name})::float8 AS outgoing,
               (SELECT count(*) FROM msm_relations WHERE project = ${project} AND to_name = ${name})::float8 AS incoming`;
      const [entity] = await this.withObservations(tx, project, [row]);
      return { ...entity!, createdAt: row.created_at, updatedAt: row.updated_at, outgoingRelations: counts.outgoing, incomingRelations: counts.incoming };
    });
  }

  observationTimes(name: string): Promise<{ content: string; createdAt: number }[]> {
    return this.read(async (tx, project) => {
      const id = await this.entityId(tx, project, name);
      if (id === undefined) return [];
      const rows = await tx`SELECT content, created_at::float8 AS created_at FROM msm_observations WHERE entity_id = ${id} ORDER BY id`;
      return rows.map((o: { content: string; created_at: number }) => ({ content: o.content, createdAt: o.created_at }));
    });
  }

  nodeRelations(name: string, direction: Direction = "both", page: Page = {}): Promise<Relation[]> {
    const from = direction === "incoming" ? null : name;
    const to = direction === "outgoing" ? null : name;
    return this.read(async (tx, project) => {
      const rows = await tx`
        SELECT id, from_name, to_name, relation_type FROM msm_relations
        WHERE project = ${project} AND (from_name = ${from} OR to_name = ${to})
        ORDER BY id LIMIT ${page.limit ?? null} OFFSET ${page.offset ?? 0}`;
      return (rows as RelationRow[]).map(toRelation);
    });
  }

  /**
   * Observations the most relevant to a question in words, best first: the ranking of recall.ts over this project's
   * index, in one read transaction. Rows an older msm wrote unindexed are indexed first, in a write of their own.
   */
  async recall(query: string, options: RecallOptions = {}): Promise<RecallResult[]> {
    const attempt = (checkComplete: boolean) =>
      this.read((tx, project) => runRecall(recallPlan(query, options), (need) => answerNeed(tx, project, need, checkComplete)));
    try {
      return await attempt(true);
    } catch (error) {
      if (!(error instanceof RecallIncomplete)) throw error;
      // Not `write`: indexing changes nothing a session sees, so subscribers are not told.
      const project = await this.server.projectRow(this.identity.id);
      while (!(await this.server.run("write", (tx) => catchUp(tx, project)))) {}
      return attempt(false);
    }
  }

  /** Same rules as GraphStore.importGraph (an existing name gets the new observations), in a few set-based statements. */
  importGraph(entities: Entity[], relations: Relation[]): Promise<ImportCounts> {
    return this.write(async (tx, project) => {
      const counts: ImportCounts = { entitiesAdded: 0, entitiesMerged: 0, observationsAdded: 0, relationsAdded: 0 };
      const now = Date.now();
      const byName = new Map<string, Entity>();
      for (const e of entities) {
        const seen = byName.get(e.name);
        if (seen) {
          counts.entitiesMerged++;
          seen.observations = [...seen.observations, ...e.observations];
        } else byName.set(e.name, { ...e, observations: [...e.observations] });
      }
      const unique = [...byName.values()];
      if (unique.length) {
        const inserted = await tx`
          INSERT INTO msm_entities (project, name, entity_type, name_lc, type_lc, created_at, updated_at)
          SELECT ${project}::bigint, n, t, nl, tl, ${now}::bigint, ${now}::bigint
            FROM unnest(${unique.map((e) => e.name)}::text[], ${unique.map((e) => e.entityType)}::text[], ${unique.map((e) => e.name.toLowerCase())}::text[], ${unique.map((e) => e.entityType.toLowerCase())}::text[])
            WITH ORDINALITY AS u(n, t, nl, tl, o) ORDER BY o
          ON CONFLICT (project, name) DO NOTHING RETURNING id, name, entity_type`;
        await indexEntities(
          tx,
          project,
          inserted.map((r: { id: string; name: string; entity_type: string }) => ({ id: r.id, name: r.name, entityType: r.entity_type })),
        );
        counts.entitiesAdded += inserted.length;
        counts.entitiesMerged += unique.length - inserted.length;
        const ids = await tx`SELECT id, name FROM msm_entities WHERE project = ${project} AND name = ANY(${unique.map((e) => e.name)}::text[])`;
        const idOf = new Map<string, string>(ids.map((r: { id: string; name: string }) => [r.name, String(r.id)]));
        const obsEntity: string[] = [];
        const obsContent: string[] = [];
        for (const e of unique)
          for (const c of e.observations) {
            obsEntity.push(idOf.get(e.name)!);
            obsContent.push(c);
          }
        if (obsContent.length) {
          const added = await tx`
            INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at)
            SELECT e, ${project}::bigint, c, lc, ${now}::bigint
              FROM unnest(${obsEntity}::bigint[], ${obsContent}::text[], ${obsContent.map((c) => c.toLowerCase())}::text[]) WITH ORDINALITY AS u(e, c, lc, o) ORDER BY o
            ON CONFLICT (entity_id, md5(content)) DO NOTHING RETURNING id, entity_id, content`;
          await indexObservations(
            tx,
            project,
            added.map((r: { id: string; entity_id: string; content: string }) => ({ id: r.id, entity: r.entity_id, content: r.content })),
          );
          counts.observationsAdded += added.length;
        }
      }
      counts.relationsAdded += (await this.insertRelations(tx, project, relations, now)).length;
      return counts;
    });
  }

  /** Every entity then every relation in creation order, read in pages (graphs larger than memory). */
  async *iterate(pageSize = 5_000): AsyncGenerator<{ type: "entity"; entity: Entity } | { type: "relation"; relation: Relation }> {
    let after = "0";
    for (;;) {
      const batch = await this.read(async (tx, project) => {
        const rows =
          (await tx`SELECT id, name, entity_type FROM msm_entities WHERE project = ${project} AND id > ${after} ORDER BY id LIMIT ${pageSize}`) as EntityRow[];
        return { rows, entities: await this.withObservations(tx, project, rows) };
      });
      for (const entity of batch.entities) yield { type: "entity", entity };
      if (batch.rows.length < pageSize) break;
      after = String(batch.rows[batch.rows.length - 1]!.id);
    }
    after = "0";
    for (;;) {
      const rows = await this.read(
        async (tx, project) =>
          (await tx`SELECT id, from_name, to_name, relation_type FROM msm_relations WHERE project = ${project} AND id > ${after} ORDER BY id LIMIT ${pageSize}`) as RelationRow[],
      );
      for (const row of rows) yield { type: "relation", relation: toRelation(row) };
      if (rows.length < pageSize) break;
      after = String(rows[rows.length - 1]!.id);
    }
  }

  /** Points relations at `to` instead of `from`; one that would then duplicate an existing relation is dropped. */
  private async repointRelations(tx: Tx, project: string, from: string, to: string): Promise<void> {
    // UPDATE OR IGNORE, as in SQLite: a relation that would duplicate an existing one stays behind and is deleted.
    await tx`
      UPDATE msm_relations r SET from_name = ${to} WHERE r.project = ${project} AND r.from_name = ${from}
        AND NOT EXISTS (SELECT 1 FROM msm_relations x WHERE x.project = ${project} AND x.from_name = ${to} AND x.to_name = r.to_name AND x.relation_type = r.relation_type)`;
    await tx`
      UPDATE msm_relations r SET to_name = ${to} WHERE r.project = ${project} AND r.to_name = ${from}
        AND NOT EXISTS (SELECT 1 FROM msm_relations x WHERE x.project = ${project} AND x.from_name = r.from_name AND x.to_name = ${to} AND x.relation_type = r.relation_type)`;
    await tx`DELETE FROM msm_relations WHERE project = ${project} AND from_name = ${from}`;
    await tx`DELETE FROM msm_relations WHERE project = ${project} AND to_name = ${from}`;
  }

  private async entityById(tx: Tx, id: string): Promise<Entity> {
    const rows = (await tx`SELECT id, name, entity_type FROM msm_entities WHERE id = ${id}`) as EntityRow[];
    return (await this.withObservations(tx, "", rows))[0]!;
  }

  /** Entities with their observations in order, in one query. */
  private async withObservations(tx: Tx, project: string, rows: EntityRow[], all = false): Promise<Entity[]> {
    if (rows.length === 0) return [];
    const observations = new Map<string, string[]>(rows.map((r) => [String(r.id), []]));
    const found = all
      ? await tx`SELECT entity_id, content FROM msm_observations WHERE project = ${project} ORDER BY id`
      : await tx`SELECT entity_id, content FROM msm_observations WHERE entity_id = ANY(${rows.map((r) => String(r.id))}::bigint[]) ORDER BY id`;
    for (const o of found as { entity_id: string; content: string }[]) observations.get(String(o.entity_id))?.push(o.content);
    return rows.map((r) => ({ name: r.name, entityType: r.entity_type, observations: observations.get(String(r.id))! }));
  }

  /** The given entities plus every relation with at least one endpoint among them, in creation order. */
  private async subgraph(tx: Tx, project: string, rows: EntityRow[]): Promise<KnowledgeGraph> {
    if (rows.length === 0) return { entities: [], relations: [] };
    const names = rows.map((r) => r.name);
    const relations = (await tx`
      SELECT id, from_name, to_name, relation_type FROM msm_relations WHERE project = ${project} AND from_name = ANY(${names}::text[])
      UNION
      SELECT id, from_name, to_name, relation_type FROM msm_relations WHERE project = ${project} AND to_name = ANY(${names}::text[])
      ORDER BY id`) as RelationRow[];
    return { entities: await this.withObservations(tx, project, rows), relations: relations.map(toRelation) };
  }
}
