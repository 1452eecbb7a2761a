/**
 * One slow database never stalls the others (issue 9, item 7): project B's call latency through the real proxy
 * alone, and while project A writes a large observation, side by side; and how soon A's write blocked by a foreign
 * program's write lock is answered.
 *   bun bench/isolation.bench.ts        observation sizes 1 and 4 MiB
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Sandbox, openSession } from "../tests/helpers/sandbox.ts";

const SIZES_MIB = (process.env.MSM_BENCH_MIB ?? "1,4").split(",").map(Number);
const WRITES = 3;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;

async function bCall(b: Client): Promise<void> {
  const result = await b.callTool({ name: "search_nodes", arguments: { query: "b1" } });
  if (result.isError) throw new Error(JSON.stringify(result.content));
}

const sandbox = new Sandbox({ supervisor: { port: 0 }, targets: { memory: { port: 0 } } });
try {
  const a = await openSession(sandbox, sandbox.project("a"));
  const b = await openSession(sandbox, sandbox.project("b"));
  await a.client.callTool({ name: "read_graph", arguments: {} });
  await b.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "b1", entityType: "t", observations: ["one"] }] } });

  const alone: number[] = [];
  for (let i = 0; i < 200; i++) alone.push(await timed(() => bCall(b.client)));
  const rows = [["B's calls", "p50", "p95", "max", "A's write"], ["alone", fmt(pct(alone, 0.5)), fmt(pct(alone, 0.95)), fmt(Math.max(...alone)), "-"]];

  for (const mib of SIZES_MIB) {
    const during: number[] = [];
    const writes: number[] = [];
    for (let w = 0; w < WRITES; w++) {
      const big = String.fromCharCode(97 + w).repeat(mib * 1024 * 1024);
      let writing = true;
      const write = timed(() => a.client.callTool({ name: "create_entities", arguments: { entities: [{ name: `big-${mib}-${w}`, entityType: "t", observations: [big] }] } })).finally(
        () => (writing = false),
      );
      while (writing) {
        const ms = await timed(() => bCall(b.client));
        if (writing) during.push(ms);
      }
      writes.push(await write);
    }
    rows.push([`while A writes ${mib} MiB`, fmt(pct(during, 0.5)), fmt(pct(during, 0.95)), fmt(Math.max(...during)), fmt(pct(writes, 0.5))]);
  }

  const foreign = new Database(join(sandbox.root, "projects", "a", ".claude", "memory.db"));
  foreign.exec("BEGIN IMMEDIATE");
  let blocked = true;
  const lockedWrite = timed(() => a.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "x", entityType: "t", observations: [] }] } })).finally(
    () => (blocked = false),
  );
  const duringLock: number[] = [];
  while (blocked) {
    const ms = await timed(() => bCall(b.client));
    if (blocked) duringLock.push(ms);
  }
  const lockedMs = await lockedWrite;
  foreign.exec("ROLLBACK");
  foreign.close();
  rows.push(["while A's file is locked", fmt(pct(duringLock, 0.5)), fmt(pct(duringLock, 0.95)), fmt(Math.max(...duringLock)), `error after ${fmt(lockedMs)}`]);

  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  await a.close();
  await b.close();
} finally {
  await sandbox.cleanup();
}
