/**
 * Memory benchmark: msm (through the real `dist/msm proxy`, MCP SDK client over stdio) against the official
 * `@modelcontextprotocol/server-memory` (node, stdio) at 10k entities, and msm alone at larger sizes.
 *   bun bench/memory.bench.ts                 sizes 10k, 100k, 1M
 *   MSM_BENCH_SIZES=10000,100000 bun bench/…  chosen sizes
 * Sizes up to 100k are created through the proxy (create_entities, 1000 per call); larger ones are bulk-loaded
 * straight into SQLite (the same store code, in this process) to keep the run to minutes. Searches and writes are
 * always measured through the proxy.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { GraphStore } from "../src/memory/sqlite/store.ts";
import { entity, median, relation, timed } from "./lib.ts";
import { Sandbox, openSession } from "../tests/helpers/sandbox.ts";
import { rng, startOfficial } from "../tests/helpers/official.ts";

const SIZES = (process.env.MSM_BENCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
const BATCH = 1000;
const SAMPLES = Number(process.env.MSM_BENCH_SAMPLES ?? 200);
const OFFICIAL_SAMPLES = 30;
/** Above this many entities the graph is bulk-loaded into SQLite instead of created through the proxy. */
const PROXY_CREATE_MAX = 100_000;

/** Creates `n` entities (and n/2 relations) through the tools; returns entities per second. */
async function createThroughTools(client: Client, n: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const entities = Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => entity(i + k));
    const result = await client.callTool({ name: "create_entities", arguments: { entities } });
    if (result.isError) throw new Error(JSON.stringify(result.content));
    const relations = Array.from({ length: Math.min(BATCH, n - i) / 2 }, (_, k) => relation(i + k * 2, n));
    await client.callTool({ name: "create_relations", arguments: { relations } });
  }
  return n / ((performance.now() - start) / 1000);
}

/** Bulk load straight into the project's database file; returns entities per second. */
function bulkLoad(file: string, n: number): number {
  const store = new GraphStore(file);
  const start = performance.now();
  for (let i = 0; i < n; i += 10_000) {
    const count = Math.min(10_000, n - i);
    store.importGraph(
      Array.from({ length: count }, (_, k) => entity(i + k)),
      Array.from({ length: count / 2 }, (_, k) => relation(i + k * 2, n)),
    );
    if ((i / 10_000) % 10 === 9) process.stderr.write(`  bulk-loaded ${i + count} / ${n}\n`);
  }
  store.optimizeSearchIndex(); // as `msm memory import` does at the end
  const rate = n / ((performance.now() - start) / 1000);
  store.close();
  return rate;
}

/** search_nodes and single add_observations p50 over random entities (a query names a few entities, as a user would). */
async function measure(client: Client, n: number, samples: number, seed: number) {
  const r = rng(seed);
  const search: number[] = [];
  const write: number[] = [];
  const open: number[] = [];
  for (let s = 0; s < samples; s++) {
    const i = r.int(n);
    search.push(await timed(() => client.callTool({ name: "search_nodes", arguments: { query: `Entity-${i}` } })));
    open.push(await timed(() => client.callTool({ name: "open_nodes", arguments: { names: [`entity-${i}`] } })));
    write.push(
      await timed(() =>
        client.callTool({ name: "add_observations", arguments: { observations: [{ entityName: `entity-${i}`, contents: [`bench note ${s}`] }] } }),
      ),
    );
  }
  return { search: median(search), write: median(write), open: median(open) };
}

interface Row {
  server: string;
  entities: number;
  create: string;
  search: number;
  write: number;
  open: number;
}

const rows: Row[] = [];
const sandbox = new Sandbox();
try {
  // The official server at 10k: created through its own tools, measured the same way.
  if (SIZES.includes(10_000)) {
    process.stderr.write("official server, 10k entities …\n");
    const official = await startOfficial(sandbox.root);
    const rate = await createThroughTools(official.client, 10_000);
    const m = await measure(official.client, 10_000, OFFICIAL_SAMPLES, 1);
    rows.push({ server: "official 2026.8.31", entities: 10_000, create: `${Math.round(rate)}/s (tools)`, ...m });
    await official.close();
  }

  for (const n of SIZES) {
    process.stderr.write(`msm, ${n} entities …\n`);
    const project = sandbox.project(`bench-${n}`);
    let create: string;
    if (n <= PROXY_CREATE_MAX) {
      const session = await openSession(sandbox, project);
      create = `${Math.round(await createThroughTools(session.client, n))}/s (tools)`;
      await session.close();
    } else {
      mkdirSync(join(project, ".claude"), { recursive: true });
      create = `${Math.round(bulkLoad(join(project, ".claude", "memory.db"), n))}/s (bulk)`;
    }
    const session = await openSession(sandbox, project);
    await measure(session.client, n, 20, 99); // warm the page cache and the daemon's statements
    const m = await measure(session.client, n, SAMPLES, 2);
    rows.push({ server: "msm", entities: n, create, ...m });
    await session.close();
  }
} finally {
  await sandbox.cleanup();
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
const lines = [
  "| server | entities | bulk creation | search_nodes p50 | add_observations p50 | open_nodes p50 |",
  "|---|---:|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${r.server} | ${r.entities.toLocaleString("en")} | ${r.create} | ${fmt(r.search)} | ${fmt(r.write)} | ${fmt(r.open)} |`),
];
const official = rows.find((r) => r.server !== "msm");
const msm10k = rows.find((r) => r.server === "msm" && r.entities === 10_000);
if (official && msm10k) {
  lines.push(
    "",
    `At 10k msm is ${(official.search / msm10k.search).toFixed(0)}× faster at search and ${(official.write / msm10k.write).toFixed(0)}× at a single write (target ≥ 20×).`,
  );
}
const big = rows.find((r) => r.server === "msm" && r.entities >= 1_000_000);
if (big) lines.push(`At ${big.entities.toLocaleString("en")}: search p50 ${fmt(big.search)} (target ≤ 5 ms), write p50 ${fmt(big.write)} (target ≤ 2 ms).`);
console.log(lines.join("\n"));
