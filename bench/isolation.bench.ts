/**
 * One slow database never stalls the others (issue 9, item 7): project B's call latency through the real proxy
 * alone, while project A writes a large observation, and while A's file is write-locked by a foreign program.
 *
 * A and B are two editors: B runs in a process of its own (bench/isolation-client.mjs under Node, the SDK's stdio
 * client), calling search_nodes back to back; A's writes are made from this process. Sharing one process would
 * measure the bench, not msm: the SDK's stdio client reassembles A's 8 MiB answer with a quadratic Buffer.concat,
 * which froze B's event loop here for up to 0.8 s while the daemon had long answered B. A call of B's counts for
 * a row when it overlaps one of A's writes (call start and end are absolute times, comparable across processes).
 *
 * Each run is repeated with two busy-loop processes (`sh -c 'while :; do :; done'`) occupying both cores of a
 * 2-core machine, started and killed by pid here.
 *   bun bench/isolation.bench.ts
 *   MSM_BENCH_MIB=4 MSM_BENCH_LOAD=2 bun bench/isolation.bench.ts    only 4 MiB, only with two busy loops
 */
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import { MSM, Sandbox, openSession, requireBinary } from "../tests/helpers/sandbox.ts";
import { percentile } from "./lib.ts";

const SIZES_MIB = (process.env.MSM_BENCH_MIB ?? "1,4").split(",").map(Number);
const LOADS = (process.env.MSM_BENCH_LOAD ?? "0,2").split(",").map(Number);
const WRITES = Number(process.env.MSM_BENCH_WRITES ?? 5);
/** How long B runs alone first: about as long as A's writes take, so the rows' maxima come from as many calls. */
const ALONE_MS = Number(process.env.MSM_BENCH_ALONE_MS ?? 5_000);
const CLIENT = resolve(import.meta.dir, "isolation-client.mjs");

const now = () => performance.timeOrigin + performance.now();
type Window = [start: number, end: number];
type Sample = Window;

const fmt = (ms: number) => (Number.isNaN(ms) ? "-" : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

/** B's process: started, then read line by line; `samples` grows as B's calls finish. */
function startB(sandbox: Sandbox) {
  const plan = { command: MSM, args: ["proxy", "--target", "memory"], env: sandbox.env, cwd: sandbox.project("b") };
  const child = Bun.spawn(["node", CLIENT, JSON.stringify(plan)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  sandbox.track(child.pid);
  const samples: Sample[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line === "ready") ready();
        else {
          const [start, end] = line.split(" ").map(Number);
          samples.push([start!, end!]);
        }
      }
    }
  })();
  return {
    samples,
    ready: Promise.race([isReady, child.exited.then((code) => Promise.reject(new Error(`B's client exited ${code} before it was ready`)))]),
    async stop() {
      child.stdin.write("stop\n");
      await child.stdin.end();
      await Promise.race([child.exited, Bun.sleep(30_000)]);
      child.kill();
      await reading.catch(() => {});
    },
  };
}

/** B's call latencies (ms) of calls overlapping any of the windows. */
function during(samples: Sample[], windows: Window[]): number[] {
  return samples.filter(([s, e]) => windows.some(([ws, we]) => s < we && e > ws)).map(([s, e]) => e - s);
}

function busyLoops(n: number) {
  const loops = Array.from({ length: n }, () => Bun.spawn(["sh", "-c", "while :; do :; done"], { stdio: ["ignore", "ignore", "ignore"] }));
  return () => {
    for (const loop of loops) loop.kill("SIGKILL");
  };
}

async function run(load: number): Promise<string[][]> {
  const stopLoops = busyLoops(load);
  const sandbox = new Sandbox({ supervisor: { port: 0 }, targets: { memory: { port: 0 } } });
  const rows: string[][] = [];
  const label = load === 0 ? "quiet" : `${load} busy loops`;
  try {
    const a = await openSession(sandbox, sandbox.project("a"));
    await a.client.callTool({ name: "read_graph", arguments: {} });
    const b = startB(sandbox);
    await b.ready;
    const aloneFrom = b.samples.length;
    await Bun.sleep(ALONE_MS);
    const alone = b.samples.slice(aloneFrom).map(([s, e]) => e - s);
    rows.push([label, "alone", String(alone.length), fmt(percentile(alone, 0.5)), fmt(percentile(alone, 0.95)), fmt(Math.max(...alone)), "-"]);

    const phases: { name: string; windows: Window[]; result: string }[] = [];
    for (const mib of SIZES_MIB) {
      const windows: Window[] = [];
      for (let w = 0; w < WRITES; w++) {
        const big = String.fromCharCode(97 + (w % 26)).repeat(mib * 1024 * 1024);
        const start = now();
        const result = await a.client.callTool(
          { name: "create_entities", arguments: { entities: [{ name: `big-${mib}-${w}`, entityType: "t", observations: [big] }] } },
          undefined,
          { timeout: 600_000 },
        );
        windows.push([start, now()]);
        if (result.isError) throw new Error(JSON.stringify(result.content).slice(0, 300));
        // B's calls in between writes are not counted: let a few happen so each write starts against a busy B.
        const seen = b.samples.length;
        while (b.samples.length < seen + 3) await Bun.sleep(5);
      }
      phases.push({
        name: `A writes ${mib} MiB`,
        windows,
        result: fmt(
          percentile(
            windows.map(([s, e]) => e - s),
            0.5,
          ),
        ),
      });
    }

    const foreign = new Database(join(sandbox.root, "projects", "a", ".claude", "memory.db"));
    foreign.exec("BEGIN IMMEDIATE");
    const lockStart = now();
    await a.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "x", entityType: "t", observations: [] }] } });
    const lockEnd = now();
    foreign.exec("ROLLBACK");
    foreign.close();
    phases.push({ name: "A's file locked", windows: [[lockStart, lockEnd]], result: `error after ${fmt(lockEnd - lockStart)}` });

    await b.stop();
    for (const phase of phases) {
      const ms = during(b.samples, phase.windows);
      rows.push([label, phase.name, String(ms.length), fmt(percentile(ms, 0.5)), fmt(percentile(ms, 0.95)), fmt(Math.max(...ms)), phase.result]);
    }
    await a.close();
  } finally {
    await sandbox.cleanup();
    stopLoops();
  }
  return rows;
}

requireBinary();
const rows = [["load", "B's calls", "n", "p50", "p95", "max", "A's call (p50)"]];
for (const load of LOADS) rows.push(...(await run(load)));
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
