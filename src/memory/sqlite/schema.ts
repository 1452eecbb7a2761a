import type { Database } from "bun:sqlite";

/*
 * Rows are ordered by rowid everywhere, which reproduces the official server's file order: entities, observations
 * and relations appear in the order they were first created, a re-created one goes to the end. (A new rowid is
 * always max+1, so even after deletes the newest row sorts last.)
 *
 * Relations name their endpoints instead of pointing at entity ids because the official server accepts relations
 * between entities that do not exist (and keeps them until an endpoint is deleted).
 *
 * `*_lc` columns hold JavaScript's toLowerCase() of the text: SQLite's lower() folds ASCII only, and search must match
 * exactly what the official server's `toLowerCase().includes()` matches. The FTS5 tables index those columns with a
 * case-sensitive trigram tokenizer, so an indexed phrase match is the same substring test on the same folded text.
 *
 * Every lookup a call makes goes through a unique constraint or an index: name → entity, (entity, content) →
 * observation, (from, to, type) → relation and to → relation; substring search goes through the trigram indexes.
 */
const TABLES = `
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

// External-content FTS tables (the text lives once, in the tables above) kept in step by triggers, so every writer —
// the daemon, `msm memory import`, a user's sqlite3 shell — keeps the index right.
const SEARCH = `
CREATE VIRTUAL TABLE IF NOT EXISTS entities_fts USING fts5(
  name_lc, type_lc, content='entities', content_rowid='id', tokenize='trigram case_sensitive 1');
CREATE VIRTUAL TABLE IF NOT EXISTS observations_fts USING fts5(
  content_lc, content='observations', content_rowid='id', tokenize='trigram case_sensitive 1');
CREATE TRIGGER IF NOT EXISTS entities_ai AFTER INSERT ON entities BEGIN
  INSERT INTO entities_fts (rowid, name_lc, type_lc) VALUES (new.id, new.name_lc, new.type_lc);
END;
CREATE TRIGGER IF NOT EXISTS entities_ad AFTER DELETE ON entities BEGIN
  INSERT INTO entities_fts (entities_fts, rowid, name_lc, type_lc) VALUES ('delete', old.id, old.name_lc, old.type_lc);
END;
CREATE TRIGGER IF NOT EXISTS entities_au AFTER UPDATE OF name_lc, type_lc ON entities BEGIN
  INSERT INTO entities_fts (entities_fts, rowid, name_lc, type_lc) VALUES ('delete', old.id, old.name_lc, old.type_lc);
  INSERT INTO entities_fts (rowid, name_lc, type_lc) VALUES (new.id, new.name_lc, new.type_lc);
END;
CREATE TRIGGER IF NOT EXISTS observations_ai AFTER INSERT ON observations BEGIN
  INSERT INTO observations_fts (rowid, content_lc) VALUES (new.id, new.content_lc);
END;
CREATE TRIGGER IF NOT EXISTS observations_ad AFTER DELETE ON observations BEGIN
  INSERT INTO observations_fts (observations_fts, rowid, content_lc) VALUES ('delete', old.id, old.content_lc);
END;
`;

/**
 * The `recall` index (recall-index.ts writes it): observations and entities as bags of terms, each term's posting
 * list (document, term frequency, document length), each term's document frequency and the totals BM25 needs. The
 * terms come from JavaScript (lib/text), so the code that stores a row indexes it in the same transaction (and adds
 * its document frequencies once per call, not once per posting); what SQL can do alone is here as triggers: a
 * deleted or renamed row takes its postings and their counts with it whoever deletes it (a cascade, a user's
 * sqlite3 shell). Each indexed row keeps its list of terms, so that delete finds its postings by their key. A row
 * some other program inserted is indexed by the next recall (`RecallIndex.catchUp`): the index only ever lacks
 * rows, never holds stale ones, so equal counts mean it is complete.
 */
const RECALL = `
CREATE TABLE IF NOT EXISTS recall_docs (
  observation_id INTEGER PRIMARY KEY,
  entity_id INTEGER NOT NULL,
  length INTEGER NOT NULL,
  terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recall_docs_entity ON recall_docs (entity_id, observation_id);
CREATE TABLE IF NOT EXISTS recall_postings (
  term TEXT NOT NULL,
  observation_id INTEGER NOT NULL,
  entity_id INTEGER NOT NULL,
  tf INTEGER NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (term, observation_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recall_terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recall_entities (
  entity_id INTEGER PRIMARY KEY,
  length INTEGER NOT NULL,
  terms TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recall_entity_postings (
  term TEXT NOT NULL,
  entity_id INTEGER NOT NULL,
  tf INTEGER NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (term, entity_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recall_entity_terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recall_stats (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  docs INTEGER NOT NULL,
  length INTEGER NOT NULL,
  entities INTEGER NOT NULL,
  entity_length INTEGER NOT NULL
);
INSERT OR IGNORE INTO recall_stats (id, docs, length, entities, entity_length) VALUES (1, 0, 0, 0, 0);
CREATE TRIGGER IF NOT EXISTS recall_docs_ai AFTER INSERT ON recall_docs BEGIN
  UPDATE recall_stats SET docs = docs + 1, length = length + new.length WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS recall_docs_ad AFTER DELETE ON recall_docs BEGIN
  UPDATE recall_stats SET docs = docs - 1, length = length - old.length WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS recall_postings_ad AFTER DELETE ON recall_postings BEGIN
  UPDATE recall_terms SET df = df - 1 WHERE term = old.term;
  DELETE FROM recall_terms WHERE term = old.term AND df <= 0;
END;
CREATE TRIGGER IF NOT EXISTS recall_entities_ai AFTER INSERT ON recall_entities BEGIN
  UPDATE recall_stats SET entities = entities + 1, entity_length = entity_length + new.length WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS recall_entities_ad AFTER DELETE ON recall_entities BEGIN
  UPDATE recall_stats SET entities = entities - 1, entity_length = entity_length - old.length WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS recall_entity_postings_ad AFTER DELETE ON recall_entity_postings BEGIN
  UPDATE recall_entity_terms SET df = df - 1 WHERE term = old.term;
  DELETE FROM recall_entity_terms WHERE term = old.term AND df <= 0;
END;
CREATE TRIGGER IF NOT EXISTS observations_recall_ad AFTER DELETE ON observations BEGIN
  DELETE FROM recall_postings WHERE observation_id = old.id
    AND term IN (SELECT value FROM json_each((SELECT terms FROM recall_docs WHERE observation_id = old.id)));
  DELETE FROM recall_docs WHERE observation_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS entities_recall_ad AFTER DELETE ON entities BEGIN
  DELETE FROM recall_entity_postings WHERE entity_id = old.id
    AND term IN (SELECT value FROM json_each((SELECT terms FROM recall_entities WHERE entity_id = old.id)));
  DELETE FROM recall_entities WHERE entity_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS entities_recall_au AFTER UPDATE OF name, entity_type ON entities BEGIN
  DELETE FROM recall_entity_postings WHERE entity_id = old.id
    AND term IN (SELECT value FROM json_each((SELECT terms FROM recall_entities WHERE entity_id = old.id)));
  DELETE FROM recall_entities WHERE entity_id = old.id;
END;
`;

/** Bumped when the schema changes; `migrate` brings an older file up to date in one transaction. */
export const SCHEMA_VERSION = 3;

/**
 * Version 1 (the first msm build) had the tables without the search index; version 2 adds it and indexes what is
 * already there; version 3 adds the recall index, filled by `fill` (JavaScript tokenizes, so it is passed in). A
 * file from a newer msm is left alone: its extra columns or tables do not bother this code.
 */
export function migrate(db: Database, fill: () => void): void {
  const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version >= SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(TABLES);
    const hadIndex = db.query("SELECT 1 FROM sqlite_master WHERE name = 'entities_fts'").get() !== null;
    db.exec(SEARCH);
    if (!hadIndex) {
      db.exec("INSERT INTO entities_fts (entities_fts) VALUES ('rebuild')");
      db.exec("INSERT INTO observations_fts (observations_fts) VALUES ('rebuild')");
    }
    db.exec(RECALL);
    fill();
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
