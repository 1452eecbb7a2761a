import type { Database, Statement } from "bun:sqlite";

/**
 * How `search_nodes` finds its rows: per table, through the FTS5 trigram index or by a scan of the folded text.
 *
 * Both plans test the same thing — the folded text contains the folded query — so they return exactly the same rows
 * (the official server's `toLowerCase().includes()`), and both rank them with the same BM25 computed in SQL, so the
 * plan never shows in an answer. Only the cost differs. An FTS5 phrase query intersects the doclists of all the
 * query's trigrams, skipping ahead on the rarest: it costs about (trigrams × rows holding the rarest trigram). When
 * every trigram is common ("note 37 ", "about the": each in most rows) that is more than reading every row once.
 */
export type TablePlan = "index" | "scan";
export interface SearchPlan {
  entities: TablePlan;
  observations: TablePlan;
}

type Table = "entities" | "observations";

/** The trigram index can only answer queries of at least this many characters; shorter ones scan. */
const TRIGRAM = 3;

/**
 * One scanned row (fetch + instr over ~80 characters) costs about as much as this many doclist entries decoded by
 * the FTS5 phrase query: measured on a 10k-entity bench graph (50k observations) with queries that match nothing,
 * 0.08-0.12 µs per (trigram × row of the rarest trigram) against 0.23-0.45 µs per scanned row. Rows that match cost
 * the same on both plans (fetch, score, sort), so they do not enter the choice.
 */
const SCAN_ROW_COST = 3;

/** Trigram row counts only steer the plan, never the answer: recounted once the table grew or shrank by this much. */
const STATS_DRIFT = 0.1;
const STATS_MAX_TERMS = 4096;
/** First probe size; each round of probes is this many times larger, until one trigram proves rare or all common. */
const PROBE_FIRST = 256;
const PROBE_GROWTH = 8;

/** FTS5's own BM25 constants, for the score computed alike on both plans. */
const BM25_K1 = 1.2;
const BM25_B = 0.75;

// Ranking: an exact (case-insensitive) name first, then names containing the query, then BM25 over observations.
const RANK_BY_NAME = "e.name_lc = :needle DESC, instr(e.name_lc, :needle) > 0 DESC";

/**
 * BM25 of the query as one phrase in one observation (FTS5's formula; the idf factor is the same for every row of
 * one query, so it is left out: the order is unchanged). tf = occurrences of the query in the row, dl = the row's
 * trigram count, avgdl = the table's average. A name or type match outranks any observation (-1e300).
 */
const OBSERVATION_SCORE = `
  -((length(o.content_lc) - length(replace(o.content_lc, :needle, ''))) * 1.0 / length(:needle) * ${BM25_K1 + 1})
  / ((length(o.content_lc) - length(replace(o.content_lc, :needle, ''))) * 1.0 / length(:needle)
     + ${BM25_K1} * (${1 - BM25_B} + ${BM25_B} * max(length(o.content_lc) - 2, 1) / :avgdl))`;

const ENTITY_HITS: Record<TablePlan, string> = {
  index: "SELECT rowid, -1e300 FROM entities_fts WHERE entities_fts MATCH :phrase",
  scan: "SELECT id, -1e300 FROM entities WHERE instr(name_lc, :needle) > 0 OR instr(type_lc, :needle) > 0",
};
const OBSERVATION_HITS: Record<TablePlan, string> = {
  index: `SELECT o.entity_id, ${OBSERVATION_SCORE} FROM observations_fts JOIN observations o ON o.id = observations_fts.rowid
          WHERE observations_fts MATCH :phrase`,
  scan: `SELECT o.entity_id, ${OBSERVATION_SCORE} FROM observations o WHERE instr(o.content_lc, :needle) > 0`,
};

function searchSql(plan: SearchPlan): string {
  return `
    WITH hits (id, score) AS (${ENTITY_HITS[plan.entities]} UNION ALL ${OBSERVATION_HITS[plan.observations]}),
    best (id, score) AS (SELECT id, min(score) FROM hits GROUP BY id)
    SELECT e.id, e.name, e.entity_type FROM best JOIN entities e ON e.id = best.id
    ORDER BY ${RANK_BY_NAME}, best.score, e.id
    LIMIT :limit OFFSET :offset`;
}

/** The distinct trigrams of a folded query, by code point as FTS5's trigram tokenizer cuts them. */
export function trigramsOf(needle: string): string[] {
  const chars = [...needle];
  const out = new Set<string>();
  for (let i = 0; i + TRIGRAM <= chars.length; i++) out.add(chars.slice(i, i + TRIGRAM).join(""));
  return [...out];
}

/** An FTS5 phrase: the whole text as one quoted string, so no character in it is query syntax. */
export function phrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

interface Count {
  /** Rows holding the trigram, or a lower bound when `exact` is false (the probe stopped at its limit). */
  n: number;
  exact: boolean;
}

/** Chooses each table's plan from (cached, approximate) trigram row counts and holds the four prepared statements. */
export class SearchPlanner {
  private readonly statements = new Map<string, Statement>();
  private readonly counts = { entities: new Map<string, Count>(), observations: new Map<string, Count>() };
  private readonly countedAt = { entities: -1, observations: -1 };
  private readonly probes: Record<Table, Statement>;
  private readonly averages: Record<Table, Statement>;

  constructor(private readonly db: Database) {
    const probe = (table: Table) => db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM ${table}_fts WHERE ${table}_fts MATCH ?1 LIMIT ?2)`);
    const averages = (table: Table) => db.prepare(`SELECT block FROM ${table}_fts_data WHERE id = 1`);
    this.probes = { entities: probe("entities"), observations: probe("observations") };
    this.averages = { entities: averages("entities"), observations: averages("observations") };
  }

  plan(needle: string): SearchPlan {
    const trigrams = trigramsOf(needle);
    if (trigrams.length === 0) return { entities: "scan", observations: "scan" };
    return { entities: this.choose("entities", trigrams), observations: this.choose("observations", trigrams) };
  }

  statement(plan: SearchPlan): Statement {
    const key = `${plan.entities}/${plan.observations}`;
    let statement = this.statements.get(key);
    if (!statement) this.statements.set(key, (statement = this.db.prepare(searchSql(plan))));
    return statement;
  }

  /** Row count and average trigrams per row of the observations, from FTS5's averages record (no table scan). */
  observationStats(): { rows: number; avgdl: number } {
    return this.stats("observations");
  }

  /** How many observations and entities there are, exactly, without counting rows (FTS5 keeps both counts). */
  rowCounts(): { observations: number; entities: number } {
    return { observations: this.stats("observations").rows, entities: this.stats("entities").rows };
  }

  /**
   * The index wins when some trigram is rare enough: trigrams × its rows < SCAN_ROW_COST × the table's rows. Counts
   * are probed in rounds of growing limits, all trigrams together, so finding a rare one costs a few times its own
   * row count, and proving all common costs at most about one scan; results are cached between queries.
   */
  private choose(table: Table, trigrams: string[]): TablePlan {
    const { rows } = this.stats(table);
    const threshold = Math.ceil((SCAN_ROW_COST * rows) / trigrams.length);
    const counts = this.countsFor(table, rows);
    for (let limit = PROBE_FIRST; ; limit *= PROBE_GROWTH) {
      const cap = Math.min(limit, threshold);
      let undecided = false;
      for (const trigram of trigrams) {
        let count = counts.get(trigram);
        if (!count || (!count.exact && count.n < cap)) {
          const n = (this.probes[table].get(phrase(trigram), cap) as { n: number }).n;
          count = { n, exact: n < cap };
          if (counts.size >= STATS_MAX_TERMS) counts.clear();
          counts.set(trigram, count);
        }
        if (count.exact && count.n < threshold) return "index";
        if (count.n < threshold) undecided = true;
      }
      if (!undecided) return "scan";
    }
  }

  private countsFor(table: Table, rows: number): Map<string, Count> {
    const at = this.countedAt[table];
    if (at < 0 || Math.abs(rows - at) > at * STATS_DRIFT) {
      this.counts[table].clear();
      this.countedAt[table] = rows;
    }
    return this.counts[table];
  }

  /**
   * FTS5 keeps, in its `_data` row 1, the number of rows and the total tokens per column (SQLite varints); reading
   * it is one B-tree lookup where count(*) would read the table.
   */
  private stats(table: Table): { rows: number; avgdl: number } {
    const row = this.averages[table].get() as { block: Uint8Array } | null;
    if (!row) return { rows: 0, avgdl: 1 };
    const values = readVarints(row.block);
    const rows = values[0] ?? 0;
    const tokens = values.slice(1).reduce((a, b) => a + b, 0);
    return { rows, avgdl: rows > 0 && tokens > 0 ? tokens / rows : 1 };
  }
}

/** SQLite's varint: big-endian 7-bit groups with a continuation bit; a ninth byte carries 8 bits. */
function readVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    let value = 0;
    for (let k = 0; ; k++) {
      const byte = bytes[i++];
      if (byte === undefined) return out;
      if (k === 8) {
        value = value * 256 + byte;
        break;
      }
      value = value * 128 + (byte & 0x7f);
      if (byte < 0x80) break;
    }
    out.push(value);
  }
  return out;
}
