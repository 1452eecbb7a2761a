/**
 * Dashboard benchmark: what `msm ui` costs the supervisor, and how fast the explorer answers on a large graph.
 *   bun bench/ui.bench.ts                       100,000 entities (a 5,000-relation hub included)
 *   MSM_BENCH_UI_SIZE=1000000 bun bench/ui.bench.ts
 * Numbers are taken through the real supervisor (dist/msm) over HTTP with a logged-in session cookie.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { seedBigGraph } from "../tests/helpers/big-graph.ts";
import { Sandbox, msm } from "../tests/helpers/sandbox.ts";
import { median } from "./lib.ts";

const SIZE = Number(process.env.MSM_BENCH_UI_SIZE ?? 100_000);
const SAMPLES = 30;

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

/** The median, to 0.1 ms. */
const p50 = (samples: number[]) => Math.round(median(samples) * 10) / 10;

const sandbox = new Sandbox({ supervisor: { port: 0 }, targets: { memory: { port: 0 } } });
try {
  const seeded = performance.now();
  seedBigGraph(join(sandbox.home, ".claude", "memory.db"), SIZE);
  console.error(`seeded ${SIZE} entities in ${Math.round((performance.now() - seeded) / 1000)} s`);
  await msm(sandbox, ["restart", "memory"]);
  const supervisorPid = sandbox.lock("supervisor")!.pid;
  const before = rssMb(supervisorPid);

  const url = (await msm(sandbox, ["ui", "--no-open"])).stdout.trim();
  const origin = new URL(url).origin;
  const cookie = (await fetch(url, { redirect: "manual" })).headers.get("set-cookie")!.split(";")[0]!;
  const get = async (path: string) => {
    const response = await fetch(origin + path, { headers: { cookie } });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  const [home] = (await get("/ui/api/databases")) as { id: string }[];
  const db = home!.id;
  const cases: [string, string][] = [
    ["status snapshot", "/ui/api/status"],
    ["databases list", "/ui/api/databases"],
    ["search 'typescript' (most entities match)", `/ui/api/search?db=${db}&q=typescript`],
    ["search 'entity-4242' (exact name)", `/ui/api/search?db=${db}&q=entity-4242`],
    ["search 'y-' (2 chars: scan)", `/ui/api/search?db=${db}&q=y-`],
    ["entity page of a 5,000-relation hub", `/ui/api/entity?db=${db}&name=hub`],
    ["graph of the hub (60 nodes)", `/ui/api/graph?db=${db}&name=hub&max=60`],
    ["graph of the hub (150 nodes)", `/ui/api/graph?db=${db}&name=hub&max=150`],
  ];
  const rows: string[] = [];
  for (const [what, path] of cases) {
    await get(path);
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = performance.now();
      await get(path);
      samples.push(performance.now() - t0);
    }
    rows.push(`| ${what} | ${p50(samples)} ms |`);
  }
  // The supervisor stays responsive while the explorer works: the manager API's /health during heavy searches.
  const idle: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await fetch(`${origin}/health`).then((r) => r.text());
    idle.push(performance.now() - t0);
  }
  let searching = true;
  const load = Promise.all(
    Array.from({ length: 2 }, async () => {
      while (searching) await get(`/ui/api/search?db=${db}&q=typescript`);
    }),
  );
  const busy: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await fetch(`${origin}/health`).then((r) => r.text());
    busy.push(performance.now() - t0);
    await Bun.sleep(20);
  }
  searching = false;
  await load;
  rows.push(`| manager API /health, idle | ${p50(idle)} ms (max ${Math.round(Math.max(...idle))}) |`);
  rows.push(`| manager API /health while 2 tabs search 'typescript' nonstop | ${p50(busy)} ms (max ${Math.round(Math.max(...busy))}) |`);
  const after = rssMb(supervisorPid);
  console.log(`\nDashboard on ${SIZE.toLocaleString("en")} entities (p50 of ${SAMPLES}, HTTP round trip through the supervisor)\n`);
  console.log("| request | p50 |\n|---|---|");
  for (const row of rows) console.log(row);
  console.log(`\nsupervisor RSS: ${before} MB before the dashboard was loaded, ${after} MB after using it`);
} finally {
  await sandbox.cleanup();
}
