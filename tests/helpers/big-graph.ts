import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GraphStore } from "../../src/memory/sqlite/store.ts";

const TOPICS = ["coffee", "rust", "typescript", "sqlite", "editor", "memory", "proxy", "daemon", "graph", "search"];

/**
 * Writes a graph of `size` entities straight into a memory database (the daemon's own store code): a ring of
 * relations, plus a hub entity related to `hubDegree` others — the shape that would freeze a page drawing it all.
 */
export function seedBigGraph(file: string, size: number, hubDegree = 5_000): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const store = new GraphStore(file);
  try {
    const batch = 10_000;
    for (let start = 0; start < size; start += batch) {
      const entities = [];
      const relations = [];
      for (let i = start; i < Math.min(size, start + batch); i++) {
        const topic = TOPICS[i % TOPICS.length]!;
        entities.push({
          name: `entity-${i}`,
          entityType: topic,
          observations: [`Works on ${topic} in batch ${Math.floor(i / 1000)}`, `Observation ${i} about ${TOPICS[(i * 7) % TOPICS.length]}`],
        });
        relations.push({ from: `entity-${i}`, to: `entity-${(i + 1) % size}`, relationType: "next" });
      }
      store.importGraph(entities, relations);
    }
    store.importGraph(
      [{ name: "hub", entityType: "index", observations: ["Linked to thousands of entities"] }],
      Array.from({ length: hubDegree }, (_, i) => ({ from: "hub", to: `entity-${(i * 17) % size}`, relationType: "indexes" })),
    );
    store.optimizeSearchIndex();
  } finally {
    store.close();
  }
}
