import type { SQL } from "bun";
import { termCounts } from "../../lib/text/index.ts";
import type { EntityPosting, Need, PostingRow, RecallStats } from "../recall.ts";
import { GraphError } from "../types.ts";

/*
 * The PostgreSQL side of `recall` (tables: schema.ts, step 3), the counterpart of sqlite/recall-index.ts: it writes
 * terms in the caller's transaction and answers the ranking's needs, each in one statement. Ids come back as
 * numbers (bigserial values stay far below 2^53), so the ranking code sees what it sees on SQLite.
 */

type Tx = SQL;

/** Indexes stored observations (ids, their entity, their text) in two set-based statements. */
export async function indexObservations(tx: Tx, project: string, rows: { id: string | number; entity: string | number; content: string }[]): Promise<void> {
  if (rows.length === 0) return;
  const ids: string[] = [];
  const entities: string[] = [];
  const lengths: number[] = [];
  const p = { terms: [] as string[], ids: [] as string[], entities: [] as string[], tfs: [] as number[], lengths: [] as number[] };
  for (const row of rows) {
    const { counts, length } = termCounts(row.content);
    ids.push(String(row.id));
    entities.push(String(row.entity));
    lengths.push(length);
    for (const [term, tf] of counts) {
      p.terms.push(term);
      p.ids.push(String(row.id));
      p.entities.push(String(row.entity));
      p.tfs.push(tf);
      p.lengths.push(length);
    }
  }
  await tx`
    INSERT INTO msm_recall_docs (observation_id, project, entity_id, length)
    SELECT id, ${project}::bigint, e, l FROM unnest(${ids}::bigint[], ${entities}::bigint[], ${lengths}::int[]) AS u(id, e, l)`;
  if (p.terms.length) {
    await tx`
      INSERT INTO msm_recall_postings (project, term, observation_id, entity_id, tf, length)
      SELECT ${project}::bigint, t, id, e, tf, l
        FROM unnest(${p.terms}::text[], ${p.ids}::bigint[], ${p.entities}::bigint[], ${p.tfs}::int[], ${p.lengths}::int[]) AS u(t, id, e, tf, l)`;
  }
}

/** Indexes entities' names and types (one short text each). */
export async function indexEntities(tx: Tx, project: string, rows: { id: string | number; name: string; entityType: string }[]): Promise<void> {
  if (rows.length === 0) return;
  const ids: string[] = [];
  const lengths: number[] = [];
  const p = { terms: [] as string[], ids: [] as string[], tfs: [] as number[], lengths: [] as number[] };
  for (const row of rows) {
    const { counts, length } = termCounts(`${row.name} ${row.entityType}`);
    ids.push(String(row.id));
    lengths.push(length);
    for (const [term, tf] of counts) {
      p.terms.push(term);
      p.ids.push(String(row.id));
      p.tfs.push(tf);
      p.lengths.push(length);
    }
  }
  await tx`
    INSERT INTO msm_recall_entities (entity_id, project, length)
    SELECT id, ${project}::bigint, l FROM unnest(${ids}::bigint[], ${lengths}::int[]) AS u(id, l)`;
  if (p.terms.length) {
    await tx`
      INSERT INTO msm_recall_entity_postings (project, term, entity_id, tf, length)
      SELECT ${project}::bigint, t, id, tf, l FROM unnest(${p.terms}::text[], ${p.ids}::bigint[], ${p.tfs}::int[], ${p.lengths}::int[]) AS u(t, id, tf, l)`;
  }
}

/**
 * Thrown by the stats need when the project has rows nobody indexed yet: index them (`catchUp`), then ask again. A
 * GraphError so the server's retry loop passes it through untouched.
 */
export class RecallIncomplete extends GraphError {}

/** Observations indexed per catch-up transaction: short transactions, so other machines' writes rarely collide. */
const CATCH_UP_BATCH = 5_000;

/**
 * Indexes up to a batch of the project's rows an older msm (or psql) stored without indexing; true when none are
 * left. Call in a write, again until it says so.
 */
export async function catchUp(tx: Tx, project: string): Promise<boolean> {
  const rows = await tx`
    SELECT o.id, o.entity_id, o.content FROM msm_observations o
    WHERE o.project = ${project} AND NOT EXISTS (SELECT 1 FROM msm_recall_docs d WHERE d.observation_id = o.id)
    ORDER BY o.id LIMIT ${CATCH_UP_BATCH}`;
  await indexObservations(
    tx,
    project,
    rows.map((r: { id: string; entity_id: string; content: string }) => ({ id: r.id, entity: r.entity_id, content: r.content })),
  );
  const entities = await tx`
    SELECT e.id, e.name, e.entity_type FROM msm_entities e
    WHERE e.project = ${project} AND NOT EXISTS (SELECT 1 FROM msm_recall_entities r WHERE r.entity_id = e.id)
    ORDER BY e.id LIMIT ${CATCH_UP_BATCH}`;
  await indexEntities(
    tx,
    project,
    entities.map((r: { id: string; name: string; entity_type: string }) => ({ id: r.id, name: r.name, entityType: r.entity_type })),
  );
  return rows.length < CATCH_UP_BATCH && entities.length < CATCH_UP_BATCH;
}

const num = (value: unknown) => Number(value);

/** Answers one need of recallPlan inside the read transaction `tx`. */
export async function answerNeed(tx: Tx, project: string, need: Need, checkComplete = true): Promise<unknown> {
  switch (need.kind) {
    case "stats": {
      // The index is complete when it counts as many observations and entities as the tables do (it never holds
      // rows that are gone: cascades and the rename trigger see to that).
      const [row] = await tx`
        SELECT (SELECT coalesce(sum(docs), 0) FROM msm_recall_stats WHERE project = ${project})::float8 AS docs,
               (SELECT coalesce(sum(length), 0) FROM msm_recall_stats WHERE project = ${project})::float8 AS length,
               (SELECT coalesce(sum(entities), 0) FROM msm_recall_stats WHERE project = ${project})::float8 AS entities,
               (SELECT coalesce(sum(entity_length), 0) FROM msm_recall_stats WHERE project = ${project})::float8 AS entity_length,
               (SELECT coalesce(sum(row_count), 0) FROM msm_observation_stats WHERE project = ${project})::float8 AS observation_rows,
               (SELECT coalesce(sum(row_count), 0) FROM msm_entity_stats WHERE project = ${project})::float8 AS entity_rows`;
      if (checkComplete && (row.docs !== row.observation_rows || row.entities !== row.entity_rows)) throw new RecallIncomplete("recall index incomplete");
      const df = await tx`
        SELECT term, sum(df)::float8 AS n FROM msm_recall_terms WHERE project = ${project} AND term = ANY(${need.terms}::text[])
        GROUP BY term HAVING sum(df) > 0`;
      const entityDf = await tx`
        SELECT term, sum(df)::float8 AS n FROM msm_recall_entity_terms WHERE project = ${project} AND term = ANY(${need.terms}::text[])
        GROUP BY term HAVING sum(df) > 0`;
      return {
        docs: row.docs,
        length: row.length,
        entities: row.entities,
        entityLength: row.entity_length,
        df: new Map(df.map((r: { term: string; n: number }) => [r.term, r.n])),
        entityDf: new Map(entityDf.map((r: { term: string; n: number }) => [r.term, r.n])),
      } satisfies RecallStats;
    }
    case "entitiesOfTypes": {
      const rows = await tx`SELECT id FROM msm_entities WHERE project = ${project} AND type_lc = ANY(${need.types}::text[]) ORDER BY id`;
      return rows.map((r: { id: string }) => num(r.id));
    }
    case "postings": {
      const rows = await tx`
        SELECT observation_id, entity_id, tf, length FROM msm_recall_postings WHERE project = ${project} AND term = ${need.term}`.values();
      return rows.map(([doc, entity, tf, length]: unknown[]): PostingRow => [num(doc), num(entity), num(tf), num(length)]);
    }
    case "lookups": {
      const rows = await tx`
        SELECT observation_id, entity_id, tf, length FROM msm_recall_postings
        WHERE project = ${project} AND term = ${need.term} AND observation_id = ANY(${need.docs.map(String)}::bigint[])`.values();
      return rows.map(([doc, entity, tf, length]: unknown[]): PostingRow => [num(doc), num(entity), num(tf), num(length)]);
    }
    case "entityPostings": {
      const rows = await tx`
        SELECT term, entity_id, tf, length FROM msm_recall_entity_postings WHERE project = ${project} AND term = ANY(${need.terms}::text[])`.values();
      return rows.map(
        ([term, entity, tf, length]: unknown[]): EntityPosting => ({ term: String(term), entity: num(entity), tf: num(tf), length: num(length) }),
      );
    }
    case "windows": {
      const out = new Map<number, { before: number[]; after: number[] }>(need.docs.map((d) => [d.doc, { before: [], after: [] }]));
      const rows = await tx`
        SELECT a.doc, w.id, w.side FROM unnest(${need.docs.map((d) => String(d.doc))}::bigint[], ${need.docs.map((d) => String(d.entity))}::bigint[]) AS a(doc, entity)
        CROSS JOIN LATERAL (
          (SELECT observation_id AS id, -1 AS side FROM msm_recall_docs WHERE entity_id = a.entity AND observation_id < a.doc ORDER BY observation_id DESC LIMIT ${need.span})
          UNION ALL
          (SELECT observation_id AS id, 1 AS side FROM msm_recall_docs WHERE entity_id = a.entity AND observation_id > a.doc ORDER BY observation_id LIMIT ${need.span})
        ) w`.values();
      for (const [doc, id, side] of rows as [string, string, number][]) {
        const w = out.get(num(doc))!;
        (side < 0 ? w.before : w.after).push(num(id));
      }
      for (const w of out.values()) {
        w.before.sort((a, b) => b - a);
        w.after.sort((a, b) => a - b);
      }
      return out;
    }
    case "latest": {
      const out = new Map<number, number[]>(need.entities.map((e) => [e, []]));
      const rows = await tx`
        SELECT a.entity, w.observation_id FROM unnest(${need.entities.map(String)}::bigint[]) AS a(entity)
        CROSS JOIN LATERAL (SELECT observation_id FROM msm_recall_docs WHERE entity_id = a.entity ORDER BY observation_id DESC LIMIT ${need.per}) w`.values();
      for (const [entity, id] of rows as [string, string][]) out.get(num(entity))!.push(num(id));
      for (const ids of out.values()) ids.sort((a, b) => b - a);
      return out;
    }
    case "times": {
      const rows = await tx`SELECT id, created_at::float8 AS t FROM msm_observations WHERE id = ANY(${need.docs.map(String)}::bigint[])`.values();
      return new Map((rows as [string, number][]).map(([id, t]) => [num(id), t]));
    }
    case "rows": {
      const rows = await tx`
        SELECT o.id, o.content, e.name, e.entity_type FROM msm_observations o JOIN msm_entities e ON e.id = o.entity_id
        WHERE o.id = ANY(${need.docs.map(String)}::bigint[])`.values();
      return new Map(
        (rows as [string, string, string, string][]).map(([id, observation, entity, entityType]) => [num(id), { observation, entity, entityType }]),
      );
    }
  }
}
