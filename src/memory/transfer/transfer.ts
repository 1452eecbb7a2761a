import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";
import { MsmError } from "../../lib/errors.ts";
import type { Entity, ImportCounts, Relation, TransferGraph as Graph } from "../types.ts";

/*
 * The official server's file: one JSON object per line, `{"type":"entity","name","entityType","observations"}` or
 * `{"type":"relation","from","to","relationType"}`; blank lines and other types are ignored (as it ignores them).
 * Its older `memory.json` holds the same lines; a hand-made `{"entities":[…],"relations":[…]}` document is read too.
 */

const EntityLineSchema = z.object({
  type: z.literal("entity"),
  name: z.string(),
  entityType: z.string(),
  // The official loader tolerates a missing list (and then fails later); an entity without observations has none.
  observations: z.array(z.string()).default([]),
});
const RelationLineSchema = z.object({
  type: z.literal("relation"),
  from: z.string(),
  to: z.string(),
  relationType: z.string(),
});
const GraphDocumentSchema = z.object({
  entities: z.array(EntityLineSchema.omit({ type: true })).default([]),
  relations: z.array(RelationLineSchema.omit({ type: true })).default([]),
});

/** Items written per transaction: big enough to be fast, small enough that a running daemon's writes interleave. */
export const IMPORT_BATCH = 5_000;
/** Files larger than this report progress on stderr. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;
const PROGRESS_EVERY_MS = 500;

export interface ImportReport extends ImportCounts {
  lines: number;
  /** Lines whose type is neither entity nor relation (the official server ignores them too). */
  ignored: number;
}

type Item = { kind: "entity"; entity: Entity } | { kind: "relation"; relation: Relation } | { kind: "ignored" };

/** Parses one line; a malformed one is an error naming the file and line, because users fix files by line. */
function parseLine(text: string, file: string, line: number): Item | undefined {
  if (text.trim() === "") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new MsmError(
      "INPUT_INVALID",
      `${file}:${line}: not valid JSON (${(error as Error).message}). Fix or remove that line and import again; nothing was imported.`,
    );
  }
  const type = raw && typeof raw === "object" ? (raw as { type?: unknown }).type : undefined;
  if (type === "entity") {
    const parsed = EntityLineSchema.safeParse(raw);
    if (!parsed.success) throw invalid(file, line, "entity", parsed.error);
    return { kind: "entity", entity: { name: parsed.data.name, entityType: parsed.data.entityType, observations: parsed.data.observations } };
  }
  if (type === "relation") {
    const parsed = RelationLineSchema.safeParse(raw);
    if (!parsed.success) throw invalid(file, line, "relation", parsed.error);
    return { kind: "relation", relation: { from: parsed.data.from, to: parsed.data.to, relationType: parsed.data.relationType } };
  }
  return { kind: "ignored" };
}

function invalid(file: string, line: number, what: string, error: z.ZodError): MsmError {
  const issue = error.issues[0]!;
  const where = issue.path.length ? `"${issue.path.join(".")}"` : "the line";
  return new MsmError(
    "INPUT_INVALID",
    `${file}:${line}: not a valid ${what}: ${where} ${issue.message}. Fix that line and import again; nothing was imported.`,
  );
}

/** Reads the file line by line, yielding each parsed item with its line number and the bytes read so far. */
async function* eachLine(file: string): AsyncGenerator<{ item: Item | undefined; line: number; bytes: number }> {
  const input = createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let bytes = 0;
  for await (const text of lines) {
    n++;
    bytes += text.length + 1;
    yield { item: parseLine(text, file, n), line: n, bytes };
  }
}

/** A whole-file JSON document (`{"entities":[…],"relations":[…]}`) rather than JSON lines? */
function readDocument(file: string): { entities: Entity[]; relations: Relation[] } | undefined {
  const fd = openSync(file, "r");
  const head = Buffer.alloc(4096);
  const read = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const start = head.subarray(0, read).toString("utf8").trimStart();
  if (!start.startsWith("{")) return undefined;
  const firstLine = start.split("\n", 1)[0]!;
  try {
    const first = JSON.parse(firstLine);
    if (!("entities" in first || "relations" in first)) return undefined;
  } catch {
    // The first line is not a complete object: a pretty-printed document, or a malformed first line (reported below).
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const parsed = GraphDocumentSchema.safeParse(doc);
  if (!parsed.success) return undefined;
  return parsed.data;
}

/**
 * Imports a memory file into a database. Two passes over JSON lines: the first checks every line (so a bad line
 * means nothing is imported), the second writes in batches so a running daemon is never locked out for long.
 */
export async function importFile(file: string, store: Graph, progress: (message: string) => void = () => {}): Promise<ImportReport> {
  if (!existsSync(file)) throw new MsmError("INPUT_INVALID", `No such file: ${file}`);
  const size = statSync(file).size;
  const report: ImportReport = { lines: 0, ignored: 0, entitiesAdded: 0, entitiesMerged: 0, observationsAdded: 0, relationsAdded: 0 };
  const add = (counts: ImportCounts) => {
    report.entitiesAdded += counts.entitiesAdded;
    report.entitiesMerged += counts.entitiesMerged;
    report.observationsAdded += counts.observationsAdded;
    report.relationsAdded += counts.relationsAdded;
  };

  const doc = readDocument(file);
  if (doc) {
    for (let i = 0; i < doc.entities.length; i += IMPORT_BATCH) add(await store.importGraph(doc.entities.slice(i, i + IMPORT_BATCH), []));
    for (let i = 0; i < doc.relations.length; i += IMPORT_BATCH) add(await store.importGraph([], doc.relations.slice(i, i + IMPORT_BATCH)));
    return report;
  }

  const loud = size >= PROGRESS_MIN_BYTES;
  let lastReport = Date.now();
  const tick = (phase: string, line: number, bytes: number) => {
    if (!loud || Date.now() - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = Date.now();
    progress(`${phase}: line ${line} (${Math.min(100, Math.floor((bytes / size) * 100))}%)`);
  };

  for await (const { item, line, bytes } of eachLine(file)) {
    report.lines = line;
    if (item?.kind === "ignored") report.ignored++;
    tick("checking", line, bytes);
  }

  let entities: Entity[] = [];
  let relations: Relation[] = [];
  const flush = async () => {
    if (entities.length || relations.length) add(await store.importGraph(entities, relations));
    entities = [];
    relations = [];
  };
  // Entities go in before the relations of the same batch; relations may name entities that come later, which the
  // official format allows (relations are not tied to entity rows).
  for await (const { item, line, bytes } of eachLine(file)) {
    if (item?.kind === "entity") entities.push(item.entity);
    else if (item?.kind === "relation") relations.push(item.relation);
    if (entities.length + relations.length >= IMPORT_BATCH) await flush();
    tick("importing", line, bytes);
  }
  await flush();
  return report;
}

/** One line of the official format, with its key order, so the official server reads it back unchanged. */
function entityLine(e: Entity): string {
  return JSON.stringify({ type: "entity", name: e.name, entityType: e.entityType, observations: e.observations });
}
function relationLine(r: Relation): string {
  return JSON.stringify({ type: "relation", from: r.from, to: r.to, relationType: r.relationType });
}

/** Streams the graph as official JSON lines to a file descriptor; returns the counts written. */
export async function exportTo(store: Graph, fd: number): Promise<{ entities: number; relations: number }> {
  const counts = { entities: 0, relations: 0 };
  let buffer = "";
  const push = (line: string) => {
    buffer += line + "\n";
    if (buffer.length > 1 << 20) {
      writeAll(fd, buffer);
      buffer = "";
    }
  };
  for await (const item of store.iterate()) {
    if (item.type === "entity") {
      push(entityLine(item.entity));
      counts.entities++;
    } else {
      push(relationLine(item.relation));
      counts.relations++;
    }
  }
  writeAll(fd, buffer);
  return counts;
}

/** Writes the export to a file atomically (temp file + rename), like the official server saves its own. */
export async function exportToFile(store: Graph, file: string): Promise<{ entities: number; relations: number }> {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, "w");
  try {
    const counts = await exportTo(store, fd);
    closeSync(fd);
    renameSync(temp, file);
    return counts;
  } catch (error) {
    try {
      closeSync(fd);
    } catch {}
    try {
      unlinkSync(temp);
    } catch {}
    throw error;
  }
}

function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

/**
 * Copies one graph into another (SQLite ⇄ PostgreSQL) in batches, with the import rules: an entity already there
 * gets the missing observations, nothing is duplicated, so running it twice is harmless.
 */
export async function copyGraph(
  from: Graph,
  to: Graph,
  progress: (message: string) => void = () => {},
): Promise<ImportCounts & { entities: number; relations: number }> {
  const total = { entitiesAdded: 0, entitiesMerged: 0, observationsAdded: 0, relationsAdded: 0, entities: 0, relations: 0 };
  let entities: Entity[] = [];
  let relations: Relation[] = [];
  let lastReport = Date.now();
  const flush = async () => {
    if (!entities.length && !relations.length) return;
    const counts = await to.importGraph(entities, relations);
    total.entitiesAdded += counts.entitiesAdded;
    total.entitiesMerged += counts.entitiesMerged;
    total.observationsAdded += counts.observationsAdded;
    total.relationsAdded += counts.relationsAdded;
    entities = [];
    relations = [];
    if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
      lastReport = Date.now();
      progress(`copied ${total.entities} entities, ${total.relations} relations`);
    }
  };
  for await (const item of from.iterate()) {
    if (item.type === "entity") {
      entities.push(item.entity);
      total.entities++;
    } else {
      relations.push(item.relation);
      total.relations++;
    }
    if (entities.length + relations.length >= IMPORT_BATCH) await flush();
  }
  await flush();
  return total;
}
