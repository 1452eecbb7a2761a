/**
 * The memory daemon on PostgreSQL against the per-project SQLite file, in one run, on the same graph: 100k entities
 * (4 sentence-long observations each, 50k relations) bulk-loaded by the store code of each backend, then search_nodes,
 * open_nodes and a single add_observations measured through the real `dist/msm proxy` (MCP SDK client over stdio).
 * PostgreSQL is a throwaway local server (tests/helpers/postgres.ts: initdb, loopback, fsync off, as in tests), so
 * the numbers are the backend's own cost plus one loopback round trip per statement — a LAN server adds its latency
 * per statement. Then the change-notification latency between two daemons sharing the server.
 *   bun bench/postgres.bench.ts          (MSM_BENCH_PG_SIZE=N to change the size, MSM_BENCH_SAMPLES=N the samples)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { PgGraph, PgServer } from "../src/memory/postgres/store.ts";
import { parsePgUrl } from "../src/memory/postgres/url.ts";
import { GraphStore } from "../src/memory/sqlite/store.ts";
import { entity, median, relation, timed, TOPICS } from "./lib.ts";
import { rng } from "../tests/helpers/official.ts";
import { TestPostgres, postgresAvailable } from "../tests/helpers/postgres.ts";
import { Sandbox, openSession } from "../tests/helpers/sandbox.ts";

const SIZE = Number(process.env.MSM_BENCH_PG_SIZE ?? 100_000);
const SAMPLES = Number(process.env.MSM_BENCH_SAMPLES ?? 200);
const BATCH = 10_000;

async function load(importGraph: (e: ReturnType<typeof entity>[], r: ReturnType<typeof relation>[]) => unknown): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < SIZE; i += BATCH) {
    const count = Math.min(BATCH, SIZE - i);
    await importGraph(
      Array.from({ length: count }, (_, k) => entity(i + k)),
      Array.from({ length: count / 2 }, (_, k) => relation(i + k * 2, SIZE)),
    );
  }
  return SIZE / ((performance.now() - start) / 1000);
}

async function measure(client: Client, samples: number, seed: number) {
  const r = rng(seed);
  const out = { search: [] as number[], word: [] as number[], open: [] as number[], write: [] as number[] };
  for (let s = 0; s < samples; s++) {
    const i = r.int(SIZE);
    out.search.push(await timed(() => client.callTool({ name: "search_nodes", arguments: { query: `Entity-${i}` } })));
    // A common word, first page only (an editor asks for a page of a big answer).
    out.word.push(await timed(() => client.callTool({ name: "search_nodes", arguments: { query: TOPICS[s % TOPICS.length]!, limit: 20 } })));
    out.open.push(await timed(() => client.callTool({ name: "open_nodes", arguments: { names: [`entity-${i}`] } })));
    out.write.push(
      await timed(() =>
        client.callTool({ name: "add_observations", arguments: { observations: [{ entityName: `entity-${i}`, contents: [`bench note ${seed}-${s}`] }] } }),
      ),
    );
  }
  return { search: median(out.search), word: median(out.word), open: median(out.open), write: median(out.write) };
}

if (!postgresAvailable()) {
  console.log("postgres: skipped (initdb not installed; apt-get install postgresql)");
  process.exit(0);
}

/**
 * Two daemons (two MSM_HOMEs: two machines) on one project: a session on B subscribes to the graph, a session on A
 * writes; the time from A's call to B's session receiving notifications/resources/updated.
 */
async function notificationLatency(url: string, samples: number): Promise<{ write: number; notified: number }> {
  const boxes = [new Sandbox({ targets: { memory: { port: 0, database: url } } }), new Sandbox({ targets: { memory: { port: 0, database: url } } })];
  try {
    const [writer, watcher] = await Promise.all(
      boxes.map((box) => {
        const project = box.project("shared");
        mkdirSync(join(project, ".claude"), { recursive: true, mode: 0o700 });
        writeFileSync(join(project, ".claude", "msm.json"), JSON.stringify({ projectId: "bench-notify" }), { mode: 0o600 });
        return openSession(box, project);
      }),
    );
    let resolve: (() => void) | undefined;
    watcher!.client.setNotificationHandler(ResourceUpdatedNotificationSchema, () => resolve?.());
    await watcher!.client.subscribeResource({ uri: "memory://knowledge-graph" });
    await writer!.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "n", entityType: "t", observations: [] }] } });
    const write: number[] = [];
    const notified: number[] = [];
    for (let s = 0; s < samples + 10; s++) {
      const heard = new Promise<void>((r) => (resolve = r));
      const start = performance.now();
      await writer!.client.callTool({ name: "add_observations", arguments: { observations: [{ entityName: "n", contents: [`note ${s}`] }] } });
      const written = performance.now();
      await heard;
      if (s >= 10) {
        write.push(written - start);
        notified.push(performance.now() - start);
      }
    }
    await writer!.close();
    await watcher!.close();
    return { write: median(write), notified: median(notified) };
  } finally {
    await Promise.all(boxes.map((b) => b.cleanup()));
  }
}

const pg = await TestPostgres.start();
let notify: { write: number; notified: number } | undefined;
const rows: { backend: string; load: number; search: number; word: number; open: number; write: number }[] = [];
const sqliteBox = new Sandbox();
const pgBox = new Sandbox({ targets: { memory: { port: 0, database: pg.url() } } });
try {
  for (const backend of ["sqlite", "postgres"] as const) {
    const box = backend === "sqlite" ? sqliteBox : pgBox;
    const project = box.project("bench");
    process.stderr.write(`${backend}: loading ${SIZE} entities …\n`);
    let rate: number;
    if (backend === "sqlite") {
      mkdirSync(join(project, ".claude"), { recursive: true, mode: 0o700 });
      const store = new GraphStore(join(project, ".claude", "memory.db"));
      rate = await load((e, r) => store.importGraph(e, r));
      store.optimizeSearchIndex();
      store.close();
    } else {
      const server = new PgServer(parsePgUrl(pg.url()));
      const graph = new PgGraph(server, { id: `path:${project}`, source: "path" });
      rate = await load((e, r) => graph.importGraph(e, r));
      await pg.psql("VACUUM ANALYZE");
      await server.close();
    }
    const session = await openSession(box, project);
    await measure(session.client, 20, 99); // warm caches and the daemon
    process.stderr.write(`${backend}: measuring …\n`);
    rows.push({ backend, load: rate, ...(await measure(session.client, SAMPLES, 2)) });
    await session.close();
  }
  process.stderr.write("postgres: notification latency across two daemons …\n");
  notify = await notificationLatency(pg.url(), Math.min(SAMPLES, 100));
} finally {
  await sqliteBox.cleanup();
  await pgBox.cleanup();
  await pg.stop();
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
console.log(
  [
    `| backend | entities | bulk load | search_nodes p50 ("Entity-N") | search_nodes p50 (common word, limit 20) | open_nodes p50 | add_observations p50 |`,
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) => `| ${r.backend} | ${SIZE.toLocaleString("en")} | ${Math.round(r.load)}/s | ${fmt(r.search)} | ${fmt(r.word)} | ${fmt(r.open)} | ${fmt(r.write)} |`,
    ),
    "",
    `Change notification across two daemons (p50): write on A ${fmt(notify!.write)}; A's call start → B's session notified ${fmt(notify!.notified)}`,
  ].join("\n"),
);
