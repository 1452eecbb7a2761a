/**
 * Durability benchmark (`npm run bench durability`): what `PRAGMA synchronous = FULL` (an acknowledged write survives
 * power loss) costs per commit against NORMAL (survives a crash of the process only), side by side in one run, on
 * the store msm uses (WAL, one IMMEDIATE transaction per tool call). Each commit is one `add_observations` call's
 * transaction; the two settings alternate in blocks so a busy machine slows both alike. Also: what the per-request
 * safety checks of a project's database (realpath, lstat of .claude and the three files, access) cost.
 *   MSM_BENCH_COMMITS=4000 bun bench/durability.bench.ts
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GraphStore } from "../src/memory/sqlite/store.ts";
import { chooseDatabase } from "../src/memory/sqlite/databases.ts";
import { percentile } from "./lib.ts";

const COMMITS = Number(process.env.MSM_BENCH_COMMITS ?? 2000);
const BLOCK = 100;
// Next to the projects msm would serve (the suite's temp root, else /tmp): fsync cost belongs to the disk.
const dir = realpathSync(mkdtempSync(join(process.env.MSM_BENCH_DIR ?? "/tmp", "msm-durability-")));

function open(mode: "NORMAL" | "FULL"): GraphStore {
  const store = new GraphStore(join(dir, `${mode}.db`));
  store.db.exec(`PRAGMA synchronous = ${mode}`);
  store.createEntities([{ name: "e", entityType: "t", observations: [] }]);
  return store;
}

const stores = { NORMAL: open("NORMAL"), FULL: open("FULL") };
const samples: Record<keyof typeof stores, number[]> = { NORMAL: [], FULL: [] };
let n = 0;
for (let done = 0; done < COMMITS; done += BLOCK) {
  for (const mode of ["NORMAL", "FULL"] as const) {
    for (let i = 0; i < BLOCK; i++) {
      const start = performance.now();
      stores[mode].addObservations([{ entityName: "e", contents: [`observation ${n++}`] }]);
      samples[mode].push(performance.now() - start);
    }
  }
}
for (const store of Object.values(stores)) store.close();

const project = join(dir, "project");
mkdirSync(project);
chooseDatabase(project);
const checks: number[] = [];
for (let i = 0; i < 10_000; i++) {
  const start = performance.now();
  chooseDatabase(project);
  checks.push(performance.now() - start);
}
rmSync(dir, { recursive: true, force: true });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const row = (mode: keyof typeof stores) =>
  `| ${mode} | ${samples[mode].length} | ${mean(samples[mode]).toFixed(3)} ms | ${percentile(samples[mode], 0.5).toFixed(3)} ms | ${percentile(samples[mode], 0.99).toFixed(3)} ms |`;
console.log(["| synchronous | commits | mean | p50 | p99 |", "|---|---:|---:|---:|---:|", row("NORMAL"), row("FULL")].join("\n"));
console.log(
  `FULL costs ${(mean(samples.FULL) - mean(samples.NORMAL)).toFixed(3)} ms more per commit (mean), ${(percentile(samples.FULL, 0.5) - percentile(samples.NORMAL, 0.5)).toFixed(3)} ms (p50).`,
);
console.log(
  `Project database checks per request: ${(percentile(checks, 0.5) * 1000).toFixed(1)} µs p50, ${(percentile(checks, 0.99) * 1000).toFixed(1)} µs p99.`,
);
