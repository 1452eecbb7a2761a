import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphStore } from "../../../src/memory/sqlite/store.ts";
import { exportToFile, importFile } from "../../../src/memory/transfer/transfer.ts";

function dir(): string {
  return mkdtempSync(join(process.env.MSM_TEST_ROOT!, "transfer-"));
}

const line = (o: object) => JSON.stringify(o);

describe("import", () => {
  test("official JSONL: entities, relations, blank lines; names listed twice are merged, unknown types ignored", async () => {
    const d = dir();
    const file = join(d, "memory.jsonl");
    writeFileSync(
      file,
      [
        line({ type: "entity", name: "A", entityType: "t", observations: ["x", "y"] }),
        "",
        line({ type: "relation", from: "A", to: "B", relationType: "r" }),
        line({ type: "entity", name: "B", entityType: "t", observations: [] }),
        line({ type: "entity", name: "A", entityType: "other", observations: ["y", "z"] }),
        line({ type: "comment", text: "hi" }),
      ].join("\n"),
    );
    const store = new GraphStore(join(d, "memory.db"));
    const report = await importFile(file, store);
    expect(report).toEqual({ lines: 6, ignored: 1, entitiesAdded: 2, entitiesMerged: 1, observationsAdded: 3, relationsAdded: 1 });
    expect(store.readGraph()).toEqual({
      entities: [
        { name: "A", entityType: "t", observations: ["x", "y", "z"] },
        { name: "B", entityType: "t", observations: [] },
      ],
      relations: [{ from: "A", to: "B", relationType: "r" }],
    });
    // Importing again changes nothing.
    expect((await importFile(file, store)).observationsAdded).toBe(0);
    store.close();
  });

  test("a malformed line is an error naming the file and line, and nothing is imported", async () => {
    const d = dir();
    const file = join(d, "memory.jsonl");
    writeFileSync(file, [line({ type: "entity", name: "A", entityType: "t", observations: [] }), "{not json", ""].join("\n"));
    const store = new GraphStore(join(d, "memory.db"));
    await expect(importFile(file, store)).rejects.toThrow(`${file}:2: not valid JSON`);
    writeFileSync(
      file,
      [line({ type: "entity", name: "A", entityType: "t", observations: [] }), line({ type: "relation", from: "A", to: 3, relationType: "r" })].join("\n"),
    );
    await expect(importFile(file, store)).rejects.toThrow(`${file}:2: not a valid relation: "to"`);
    expect(store.readGraph()).toEqual({ entities: [], relations: [] });
    store.close();
  });

  test("a whole-file JSON document ({entities, relations}) is read too", async () => {
    const d = dir();
    const file = join(d, "memory.json");
    writeFileSync(
      file,
      JSON.stringify({ entities: [{ name: "A", entityType: "t", observations: ["o"] }], relations: [{ from: "A", to: "A", relationType: "self" }] }, null, 2),
    );
    const store = new GraphStore(join(d, "memory.db"));
    await importFile(file, store);
    expect(store.readGraph()).toEqual({
      entities: [{ name: "A", entityType: "t", observations: ["o"] }],
      relations: [{ from: "A", to: "A", relationType: "self" }],
    });
    store.close();
  });

  test("large files report progress", async () => {
    const d = dir();
    const file = join(d, "memory.jsonl");
    const lines = Array.from({ length: 30_000 }, (_, i) =>
      line({ type: "entity", name: `entity number ${i}`, entityType: "thing", observations: [`observation ${i}`] }),
    );
    writeFileSync(file, lines.join("\n"));
    const store = new GraphStore(join(d, "memory.db"));
    const messages: string[] = [];
    const report = await importFile(file, store, (m) => messages.push(m));
    expect(report.entitiesAdded).toBe(30_000);
    expect(store.stats().observations).toBe(30_000);
    // Progress is time-based, so only its form is certain, not its count.
    for (const m of messages) expect(m).toMatch(/^(checking|importing): line \d+ \(\d+%\)$/);
    store.close();
  }, 60_000);
});

describe("export", () => {
  test("writes the official line format, entities then relations, in creation order", async () => {
    const d = dir();
    const store = new GraphStore(join(d, "memory.db"));
    store.createEntities([
      { name: "A", entityType: "t", observations: ["x"] },
      { name: "B", entityType: "t", observations: [] },
    ]);
    store.createRelations([{ from: "B", to: "A", relationType: "r" }]);
    const out = join(d, "out.jsonl");
    expect(await exportToFile(store, out)).toEqual({ entities: 2, relations: 1 });
    expect(readFileSync(out, "utf8")).toBe(
      [
        '{"type":"entity","name":"A","entityType":"t","observations":["x"]}',
        '{"type":"entity","name":"B","entityType":"t","observations":[]}',
        '{"type":"relation","from":"B","to":"A","relationType":"r"}',
        "",
      ].join("\n"),
    );
    store.close();
  });
});
