import type { SQL } from "bun";
import { VERSION } from "../../lib/version.ts";
import { GraphError } from "../types.ts";

/*
 * The PostgreSQL schema, versioned: `msm_schema` holds the version the tables are at and the msm that put them there.
 * A daemon upgrades the schema step by step when it first uses the database (under an advisory lock, so daemons
 * starting at once upgrade it once), and refuses a database whose schema is newer than it knows: an old msm writing
 * into tables it does not understand could break the newer machines' invariants.
 *
 * Schema 1 is what msm created before versions existed (no `msm_schema` table): a database holding `msm_entities`
 * without `msm_schema` is at 1 and is upgraded from there. Every step keeps working for msm versions that write the
 * previous schema (new tables and triggers only), so machines can be upgraded one at a time.
 */

/** The schema version this msm writes; a database at a higher one is refused. */
export const PG_SCHEMA_VERSION = 3;

const SCHEMA_LOCK = 0x6d736d; // "msm": serialises schema creation and upgrades by daemons starting at once

/**
 * 1: the tables. Observations are unique per entity by md5(content): a btree entry is capped near 2.7 kB and
 * observations can be paragraphs.
 */
const V1 = `
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS msm_projects (
  id bigserial PRIMARY KEY,
  key text NOT NULL UNIQUE,
  created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS msm_entities (
  id bigserial PRIMARY KEY,
  project bigint NOT NULL REFERENCES msm_projects(id) ON DELETE CASCADE,
  name text NOT NULL,
  entity_type text NOT NULL,
  name_lc text NOT NULL,
  type_lc text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  UNIQUE (project, name)
);
CREATE TABLE IF NOT EXISTS msm_observations (
  id bigserial PRIMARY KEY,
  entity_id bigint NOT NULL REFERENCES msm_entities(id) ON DELETE CASCADE,
  project bigint NOT NULL,
  content text NOT NULL,
  content_lc text NOT NULL,
  created_at bigint NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS msm_observations_unique ON msm_observations (entity_id, md5(content));
CREATE TABLE IF NOT EXISTS msm_relations (
  id bigserial PRIMARY KEY,
  project bigint NOT NULL REFERENCES msm_projects(id) ON DELETE CASCADE,
  from_name text NOT NULL,
  to_name text NOT NULL,
  relation_type text NOT NULL,
  created_at bigint NOT NULL,
  UNIQUE (project, from_name, to_name, relation_type)
);
CREATE INDEX IF NOT EXISTS msm_relations_to ON msm_relations (project, to_name);
CREATE INDEX IF NOT EXISTS msm_entities_name_trgm ON msm_entities USING gin (name_lc gin_trgm_ops);
CREATE INDEX IF NOT EXISTS msm_entities_type_trgm ON msm_entities USING gin (type_lc gin_trgm_ops);
CREATE INDEX IF NOT EXISTS msm_observations_trgm ON msm_observations USING gin (content_lc gin_trgm_ops);
`;

/**
 * 2: what BM25 needs and SQLite's FTS5 keeps for free — per project, the number of observations and their total
 * trigram count (a row of n characters has max(n - 2, 0), as FTS5's trigram tokenizer counts). Statement triggers
 * keep it right whoever writes (an older msm, a cascade from a deleted entity, psql). The counts are spread over
 * STATS_SHARDS rows per project, picked at random per statement, so machines writing one project at once rarely
 * update the same row (under SERIALIZABLE that would make one of them retry). No foreign key: a deleted project's
 * cascade must be able to subtract from its stats.
 */
const STATS_SHARDS = 16;
const V2 = `
CREATE TABLE msm_observation_stats (
  project bigint NOT NULL,
  shard int NOT NULL,
  row_count bigint NOT NULL,
  token_count bigint NOT NULL,
  PRIMARY KEY (project, shard)
);
CREATE FUNCTION msm_observations_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO msm_observation_stats AS s (project, shard, row_count, token_count)
      SELECT project, floor(random() * ${STATS_SHARDS})::int, count(*), sum(greatest(length(content_lc) - 2, 0)) FROM changed_rows GROUP BY project
      ON CONFLICT (project, shard) DO UPDATE SET row_count = s.row_count + excluded.row_count, token_count = s.token_count + excluded.token_count;
  ELSE
    INSERT INTO msm_observation_stats AS s (project, shard, row_count, token_count)
      SELECT project, floor(random() * ${STATS_SHARDS})::int, -count(*), -sum(greatest(length(content_lc) - 2, 0)) FROM changed_rows GROUP BY project
      ON CONFLICT (project, shard) DO UPDATE SET row_count = s.row_count + excluded.row_count, token_count = s.token_count + excluded.token_count;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_observations_added AFTER INSERT ON msm_observations
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_observations_counted();
CREATE TRIGGER msm_observations_removed AFTER DELETE ON msm_observations
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_observations_counted();
-- The triggers' lock waits out writers in flight; this statement (a fresh snapshot) then sees all they committed.
INSERT INTO msm_observation_stats (project, shard, row_count, token_count)
  SELECT project, 0, count(*), sum(greatest(length(content_lc) - 2, 0)) FROM msm_observations GROUP BY project;
`;

/**
 * 3: the `recall` index (the same tables as SQLite's, schema.ts there, with a project column): observations and
 * entities as bags of terms with their postings, document frequencies and totals. JavaScript computes the terms, so
 * msm indexes what it writes in the same transaction; the database keeps the rest right by itself — cascades drop
 * a deleted row's postings, a renamed entity loses its old terms (a row trigger), and statement triggers keep the
 * counts (sharded as in 2, so machines writing at once rarely touch one row). Rows written by an msm that predates
 * this schema are indexed by the next recall, which sees the counts differ (`msm_entity_stats` counts entities for
 * that, whoever writes them). Nothing is indexed here: each project is filled on its first recall.
 */
const V3 = `
CREATE TABLE msm_recall_docs (
  observation_id bigint PRIMARY KEY REFERENCES msm_observations(id) ON DELETE CASCADE,
  project bigint NOT NULL,
  entity_id bigint NOT NULL,
  length int NOT NULL
);
CREATE INDEX msm_recall_docs_entity ON msm_recall_docs (entity_id, observation_id);
CREATE TABLE msm_recall_postings (
  project bigint NOT NULL,
  term text NOT NULL,
  observation_id bigint NOT NULL REFERENCES msm_observations(id) ON DELETE CASCADE,
  entity_id bigint NOT NULL,
  tf int NOT NULL,
  length int NOT NULL,
  PRIMARY KEY (project, term, observation_id)
);
CREATE INDEX msm_recall_postings_doc ON msm_recall_postings (observation_id);
CREATE TABLE msm_recall_entities (
  entity_id bigint PRIMARY KEY REFERENCES msm_entities(id) ON DELETE CASCADE,
  project bigint NOT NULL,
  length int NOT NULL
);
CREATE TABLE msm_recall_entity_postings (
  project bigint NOT NULL,
  term text NOT NULL,
  entity_id bigint NOT NULL REFERENCES msm_entities(id) ON DELETE CASCADE,
  tf int NOT NULL,
  length int NOT NULL,
  PRIMARY KEY (project, term, entity_id)
);
CREATE INDEX msm_recall_entity_postings_entity ON msm_recall_entity_postings (entity_id);
CREATE TABLE msm_recall_terms (project bigint NOT NULL, term text NOT NULL, shard int NOT NULL, df bigint NOT NULL, PRIMARY KEY (project, term, shard));
CREATE TABLE msm_recall_entity_terms (project bigint NOT NULL, term text NOT NULL, shard int NOT NULL, df bigint NOT NULL, PRIMARY KEY (project, term, shard));
CREATE TABLE msm_recall_stats (
  project bigint NOT NULL,
  shard int NOT NULL,
  docs bigint NOT NULL,
  length bigint NOT NULL,
  entities bigint NOT NULL,
  entity_length bigint NOT NULL,
  PRIMARY KEY (project, shard)
);
CREATE TABLE msm_entity_stats (project bigint NOT NULL, shard int NOT NULL, row_count bigint NOT NULL, PRIMARY KEY (project, shard));

CREATE FUNCTION msm_recall_docs_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO msm_recall_stats AS s (project, shard, docs, length, entities, entity_length)
    SELECT project, floor(random() * ${STATS_SHARDS})::int, sign * count(*), sign * sum(length), 0, 0 FROM changed_rows GROUP BY project
    ON CONFLICT (project, shard) DO UPDATE SET docs = s.docs + excluded.docs, length = s.length + excluded.length;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_recall_docs_added AFTER INSERT ON msm_recall_docs
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_docs_counted();
CREATE TRIGGER msm_recall_docs_removed AFTER DELETE ON msm_recall_docs
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_docs_counted();

CREATE FUNCTION msm_recall_entities_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO msm_recall_stats AS s (project, shard, docs, length, entities, entity_length)
    SELECT project, floor(random() * ${STATS_SHARDS})::int, 0, 0, sign * count(*), sign * sum(length) FROM changed_rows GROUP BY project
    ON CONFLICT (project, shard) DO UPDATE SET entities = s.entities + excluded.entities, entity_length = s.entity_length + excluded.entity_length;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_recall_entities_added AFTER INSERT ON msm_recall_entities
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_entities_counted();
CREATE TRIGGER msm_recall_entities_removed AFTER DELETE ON msm_recall_entities
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_entities_counted();

CREATE FUNCTION msm_recall_terms_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  IF TG_TABLE_NAME = 'msm_recall_postings' THEN
    INSERT INTO msm_recall_terms AS s (project, term, shard, df)
      SELECT project, term, floor(random() * ${STATS_SHARDS})::int, sign * count(*) FROM changed_rows GROUP BY project, term
      ON CONFLICT (project, term, shard) DO UPDATE SET df = s.df + excluded.df;
  ELSE
    INSERT INTO msm_recall_entity_terms AS s (project, term, shard, df)
      SELECT project, term, floor(random() * ${STATS_SHARDS})::int, sign * count(*) FROM changed_rows GROUP BY project, term
      ON CONFLICT (project, term, shard) DO UPDATE SET df = s.df + excluded.df;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_recall_postings_added AFTER INSERT ON msm_recall_postings
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_terms_counted();
CREATE TRIGGER msm_recall_postings_removed AFTER DELETE ON msm_recall_postings
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_terms_counted();
CREATE TRIGGER msm_recall_entity_postings_added AFTER INSERT ON msm_recall_entity_postings
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_terms_counted();
CREATE TRIGGER msm_recall_entity_postings_removed AFTER DELETE ON msm_recall_entity_postings
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_recall_terms_counted();

CREATE FUNCTION msm_entities_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  INSERT INTO msm_entity_stats AS s (project, shard, row_count)
    SELECT project, floor(random() * ${STATS_SHARDS})::int, sign * count(*) FROM changed_rows GROUP BY project
    ON CONFLICT (project, shard) DO UPDATE SET row_count = s.row_count + excluded.row_count;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_entities_added AFTER INSERT ON msm_entities
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_entities_counted();
CREATE TRIGGER msm_entities_removed AFTER DELETE ON msm_entities
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION msm_entities_counted();

-- A renamed or retyped entity loses its indexed terms; whoever renamed it (msm) indexes the new ones.
CREATE FUNCTION msm_entities_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM msm_recall_entities WHERE entity_id = old.id;
  DELETE FROM msm_recall_entity_postings WHERE entity_id = old.id;
  RETURN NULL;
END $$;
CREATE TRIGGER msm_entities_renamed AFTER UPDATE OF name, entity_type ON msm_entities
  FOR EACH ROW WHEN (old.name IS DISTINCT FROM new.name OR old.entity_type IS DISTINCT FROM new.entity_type)
  EXECUTE FUNCTION msm_entities_renamed();

-- As in 2: the triggers' lock waits out writers in flight, then this counts everything they committed.
INSERT INTO msm_entity_stats (project, shard, row_count) SELECT project, 0, count(*) FROM msm_entities GROUP BY project;
`;

/** The step that brings a database at version `n - 1` to `n` (exported for tests that build an old database). */
export const PG_SCHEMA_STEPS: Record<number, string> = { 1: V1, 2: V2, 3: V3 };

/** The version a database is at: msm_schema's row, 1 for tables from before versions, 0 for an empty database. */
async function currentVersion(tx: SQL): Promise<{ version: number; by?: string }> {
  const [exists] = await tx`SELECT to_regclass('msm_schema') IS NOT NULL AS schema, to_regclass('msm_entities') IS NOT NULL AS tables`;
  if (exists.schema) {
    const [row] = await tx`SELECT version, msm_version FROM msm_schema`;
    if (row) return { version: Number(row.version), by: row.msm_version };
  }
  return { version: exists.tables ? 1 : 0 };
}

/**
 * Brings the database to PG_SCHEMA_VERSION, or throws a GraphError when it is newer than this msm knows. Runs in one
 * transaction: an upgrade that fails leaves the database as it was.
 */
export async function ensureSchema(sql: SQL, display: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`;
    const { version, by } = await currentVersion(tx);
    if (version > PG_SCHEMA_VERSION) throw new GraphError(tooNew(display, version, by));
    if (version === PG_SCHEMA_VERSION) return;
    for (let step = version + 1; step <= PG_SCHEMA_VERSION; step++) await tx.unsafe(PG_SCHEMA_STEPS[step]!);
    await tx`CREATE TABLE IF NOT EXISTS msm_schema (version int NOT NULL, msm_version text NOT NULL, upgraded_at bigint NOT NULL)`;
    await tx`DELETE FROM msm_schema`;
    await tx`INSERT INTO msm_schema (version, msm_version, upgraded_at) VALUES (${PG_SCHEMA_VERSION}, ${VERSION}, ${Date.now()})`;
  });
}

export function tooNew(display: string, version: number, by: string | undefined): string {
  return (
    `The memory database ${display} has schema version ${version}${by ? ` (written by msm ${by})` : ""}, but this msm ` +
    `(${VERSION}) understands schema versions up to ${PG_SCHEMA_VERSION}, so it does not touch it. Upgrade msm on this machine ` +
    `(run the installer again, see https://github.com/mcp-session-manager/msm#install), then run: msm upgrade-daemons`
  );
}
