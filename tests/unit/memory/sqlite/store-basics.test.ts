import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { GraphStore } from "../../../../src/memory/sqlite/store.ts";

function freshStore(): GraphStore {
  return new GraphStore(join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "store-")), "memory.db"));
}

describe("GraphStore basics (the official server's rules)", () => {
  test("the file is SQLite in WAL mode with a busy timeout", () => {
    const store = freshStore();
    expect(store.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect((store.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout).toBeGreaterThan(0);
    store.close();
  });

  test("existing entity names and relation triples are skipped; observations already present are skipped", () => {
    const store = freshStore();
    expect(store.createEntities([{ name: "A", entityType: "t", observations: ["x"] }]).length).toBe(1);
    expect(
      store.createEntities([
        { name: "A", entityType: "other", observations: [] },
        { name: "B", entityType: "t", observations: [] },
      ]),
    ).toEqual([{ name: "B", entityType: "t", observations: [] }]);
    expect(store.createRelations([{ from: "A", to: "B", relationType: "knows" }]).length).toBe(1);
    expect(store.createRelations([{ from: "A", to: "B", relationType: "knows" }])).toEqual([]);
    expect(store.addObservations([{ entityName: "A", contents: ["x", "y"] }])).toEqual([{ entityName: "A", addedObservations: ["y"] }]);
    expect(store.readGraph()).toEqual({
      entities: [
        { name: "A", entityType: "t", observations: ["x", "y"] },
        { name: "B", entityType: "t", observations: [] },
      ],
      relations: [{ from: "A", to: "B", relationType: "knows" }],
    });
    store.close();
  });

  test("add_observations on a missing entity fails with the official message and saves nothing from that call", () => {
    const store = freshStore();
    store.createEntities([{ name: "A", entityType: "t", observations: [] }]);
    expect(() =>
      store.addObservations([
        { entityName: "A", contents: ["kept?"] },
        { entityName: "Nope", contents: ["z"] },
      ]),
    ).toThrow("Entity with name Nope not found");
    expect(store.readGraph().entities[0]!.observations).toEqual([]);
    store.close();
  });

  test("deleting an entity removes its relations; deleting missing things is silent", () => {
    const store = freshStore();
    store.createEntities([
      { name: "A", entityType: "t", observations: [] },
      { name: "B", entityType: "t", observations: [] },
    ]);
    store.createRelations([
      { from: "A", to: "B", relationType: "r" },
      { from: "B", to: "B", relationType: "self" },
    ]);
    store.deleteEntities(["A", "ghost"]);
    store.deleteObservations([{ entityName: "ghost", observations: ["x"] }]);
    store.deleteRelations([{ from: "x", to: "y", relationType: "z" }]);
    expect(store.readGraph()).toEqual({
      entities: [{ name: "B", entityType: "t", observations: [] }],
      relations: [{ from: "B", to: "B", relationType: "self" }],
    });
    store.close();
  });

  test("search is a case-insensitive substring match over name, type and observations, with touching relations", () => {
    const store = freshStore();
    store.createEntities([
      { name: "Émile", entityType: "person", observations: ["likes Coffee"] },
      { name: "Tea", entityType: "drink", observations: [] },
      { name: "Other", entityType: "thing", observations: [] },
    ]);
    store.createRelations([
      { from: "Émile", to: "Tea", relationType: "dislikes" },
      { from: "Other", to: "Other", relationType: "x" },
    ]);
    expect(store.searchNodes("coff").entities.map((e) => e.name)).toEqual(["Émile"]);
    expect(store.searchNodes("émi").entities.map((e) => e.name)).toEqual(["Émile"]);
    expect(store.searchNodes("DRINK")).toEqual({
      entities: [{ name: "Tea", entityType: "drink", observations: [] }],
      relations: [{ from: "Émile", to: "Tea", relationType: "dislikes" }],
    });
    expect(store.openNodes(["Tea", "missing"]).relations).toEqual([{ from: "Émile", to: "Tea", relationType: "dislikes" }]);
    store.close();
  });

  test("a write is durable in the file once the call returns", () => {
    const store = freshStore();
    store.createEntities([{ name: "durable", entityType: "t", observations: ["o"] }]);
    const other = new Database(store.file, { readonly: true });
    expect(other.query("SELECT name FROM entities").all()).toEqual([{ name: "durable" }]);
    other.close();
    store.close();
  });
});
