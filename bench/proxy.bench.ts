/**
 * Proxy benchmark (`npm run bench proxy`): one editor session's cost, side by side in one run —
 *   official   @modelcontextprotocol/server-memory spawned per session over stdio (what msm replaces)
 *   msm        `msm proxy --target memory` in front of the shared msm memory daemon (already running)
 *   supergateway, mcp-remote   the usual stdio→HTTP proxies, in front of the same daemon (bearer token header)
 * Session start = spawn → initialize answered. Tool call = one `search_nodes` round trip, sequential.
 * RSS = the session process's resident memory after the calls. Targets (issue #4): msm start ≤ official / 10,
 * msm call ≤ official call, msm RSS ≤ 40 MB, SIGTERM → gone within 300 ms.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanEnv, LineSession, median, p95, spread, statusMb } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const MSM = join(ROOT, "dist/msm");
const OFFICIAL = join(ROOT, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");
const SUPERGATEWAY = join(ROOT, "node_modules/supergateway/dist/index.js");
const MCP_REMOTE = join(ROOT, "node_modules/mcp-remote/dist/proxy.js");

const STARTS = Number(process.env.BENCH_STARTS ?? 10);
/** Side-by-side start runs: official and msm starts taking turns, one ratio of medians per run. */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SLOW_STARTS = Number(process.env.BENCH_SLOW_STARTS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
/** The official server re-reads its whole file per call, so graph size matters: also measure on a real-sized graph. */
const BIG_GRAPH = Number(process.env.BENCH_BIG_GRAPH ?? 1000);
const BIG_CALLS = Number(process.env.BENCH_BIG_CALLS ?? 50);
/** No single bench step may hang the run (a peer that never answers). */

const dir = mkdtempSync(join(tmpdir(), "msm-bench-"));
const home = join(dir, "home");
const msmHome = join(home, ".mcp-session-manager");
mkdirSync(msmHome, { recursive: true, mode: 0o700 });
writeFileSync(join(msmHome, "config.json"), JSON.stringify({ targets: { memory: { port: 0 } } }));
const project = join(dir, "project");
mkdirSync(join(project, ".git"), { recursive: true });
const env = { ...cleanEnv(), HOME: home, MSM_HOME: msmHome };

/** One raw stdio session in this bench's project and home. */
class Session extends LineSession {
  constructor(cmd: string[], extraEnv: Record<string, string> = {}) {
    super(cmd, { cwd: project, env: { ...env, ...extraEnv } });
  }

  rssMb(): number {
    return statusMb(this.proc.pid, "VmRSS");
  }

  /**
   * Private resident memory (RssAnon). VmRSS also counts the executable's file-backed pages, which the page cache
   * shares between every process running the same binary: for N proxies the system pays those once, not N times.
   */
  privateMb(): number {
    return statusMb(this.proc.pid, "RssAnon");
  }
}

interface Row {
  name: string;
  start: number[];
  call: number[];
  bigCall: number[];
  rss: number;
  idleRss: number;
  idlePrivate: number;
  error?: string;
}

async function measure(name: string, cmd: () => string[], starts: number, extraEnv: Record<string, string> = {}): Promise<Row> {
  const row: Row = { name, start: [], call: [], bigCall: [], rss: NaN, idleRss: NaN, idlePrivate: NaN };
  const prefix = name.split(" ")[0]!;
  try {
    for (let i = 0; i < starts; i++) {
      const t0 = performance.now();
      const s = new Session(cmd(), extraEnv);
      const init = await s.initialize();
      if (init.error) throw new Error(`initialize failed: ${JSON.stringify(init.error)}`);
      row.start.push(performance.now() - t0);
      s.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      if (i === starts - 1) {
        await s.request("tools/call", { name: "create_entities", arguments: { entities: [{ name: `bench-${name}`, entityType: "t", observations: ["x"] }] } });
        for (let n = 0; n < CALLS; n++) {
          const t = performance.now();
          const answer = await s.request("tools/call", { name: "search_nodes", arguments: { query: "bench" } });
          if (answer.error) throw new Error(`tool call failed: ${JSON.stringify(answer.error)}`);
          row.call.push(performance.now() - t);
        }
        row.rss = s.rssMb();
        const entities = Array.from({ length: BIG_GRAPH }, (_, k) => ({
          name: `${prefix}-${k}`,
          entityType: "thing",
          observations: [`fact ${k} about ${prefix}`, "shared text"],
        }));
        const created = await s.request("tools/call", { name: "create_entities", arguments: { entities } });
        if (created.error) throw new Error(`bulk create failed: ${JSON.stringify(created.error)}`);
        for (let n = 0; n < BIG_CALLS; n++) {
          const t = performance.now();
          const answer = await s.request("tools/call", { name: "search_nodes", arguments: { query: `${prefix}-${n * 7}` } });
          if (answer.error) throw new Error(`tool call failed: ${JSON.stringify(answer.error)}`);
          row.bigCall.push(performance.now() - t);
        }
        // Proxies idle most of their life: resident memory once traffic pauses.
        await Bun.sleep(2_000);
        row.idleRss = s.rssMb();
        row.idlePrivate = s.privateMb();
      }
      await s.close();
    }
  } catch (error) {
    row.error = (error as Error).message;
  }
  return row;
}

async function sigtermExitMs(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = new Session([MSM, "proxy", "--target", "memory"]);
    await s.initialize();
    s.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await s.request("tools/list");
    const t = performance.now();
    s.proc.kill("SIGTERM");
    await s.proc.exited;
    out.push(performance.now() - t);
  }
  return out;
}

try {
  // Warm the daemon (and the page cache) so "session start" is what an editor sees with msm already running.
  const warm = new Session([MSM, "proxy", "--target", "memory"]);
  await warm.initialize();
  await warm.close();
  const lock = JSON.parse(readFileSync(join(msmHome, "memory.lock"), "utf8"));
  const url = `http://127.0.0.1:${lock.port}/mcp`;
  const token = readFileSync(join(msmHome, "token"), "utf8").trim();
  const auth = `Authorization: Bearer ${token}`;
  const projectHeader = `Mcp-Project-Path: ${project}`;

  const rows: Row[] = [];
  rows.push(await measure("official server-memory (node, per session)", () => ["node", OFFICIAL], STARTS, { MEMORY_FILE_PATH: join(dir, "official.jsonl") }));
  rows.push(await measure("msm proxy → msm daemon", () => [MSM, "proxy", "--target", "memory"], STARTS));
  rows.push(
    await measure(
      "supergateway → msm daemon",
      () => ["node", SUPERGATEWAY, "--streamableHttp", url, "--outputTransport", "stdio", "--header", auth, "--header", projectHeader, "--logLevel", "none"],
      SLOW_STARTS,
    ),
  );
  rows.push(
    await measure(
      "mcp-remote → msm daemon",
      () => ["node", MCP_REMOTE, url, "--header", auth, "--header", projectHeader, "--transport", "http-only", "--silent"],
      SLOW_STARTS,
    ),
  );
  const sigterm = await sigtermExitMs();

  // Session start side by side: one official start, one msm start, in turn, so both see the same load.
  const startRatios: number[] = [];
  const startMsm: number[] = [];
  const startOfficial: number[] = [];
  const startOnce = async (cmd: string[], extraEnv: Record<string, string> = {}) => {
    const t0 = performance.now();
    const s = new Session(cmd, extraEnv);
    const init = await s.initialize();
    if (init.error) throw new Error(`initialize failed: ${JSON.stringify(init.error)}`);
    const ms = performance.now() - t0;
    await s.close();
    return ms;
  };
  for (let run = 0; run < RUNS; run++) {
    const official: number[] = [];
    const mine: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      official.push(await startOnce(["node", OFFICIAL], { MEMORY_FILE_PATH: join(dir, "official.jsonl") }));
      mine.push(await startOnce([MSM, "proxy", "--target", "memory"]));
    }
    startOfficial.push(median(official));
    startMsm.push(median(mine));
    startRatios.push(median(mine) / median(official));
  }

  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const cpus = navigator.hardwareConcurrency;
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "—");
  const lines = [
    `machine: ${cpus} cores, load average ${load} (shared: numbers move with other work)`,
    "",
    `| session | start median ms | start p95 ms | call median ms (tiny graph) | call p95 ms | call median ms (${BIG_GRAPH} entities) | RSS MB after calls | RSS MB idle | private MB idle |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      r.error
        ? `| ${r.name} | failed: ${r.error} | | | | | | | |`
        : `| ${r.name} | ${fmt(median(r.start))} | ${fmt(p95(r.start))} | ${fmt(median(r.call))} | ${fmt(p95(r.call))} | ${fmt(median(r.bigCall))} | ${fmt(r.rss)} | ${fmt(r.idleRss)} | ${fmt(r.idlePrivate)} |`,
    ),
    "",
  ];
  lines.push(
    `| session start, side by side (${RUNS} runs × ${STARTS} starts each: min / median / max) | official | msm | msm / official |`,
    "|---|---:|---:|---:|",
    `| spawn → initialize answered, daemon warm | ${spread(startOfficial, fmt)} ms | ${spread(startMsm, fmt)} ms | ${spread(startRatios, (n) => n.toFixed(3))}× |`,
    "",
  );
  const official = rows[0]!;
  const msm = rows[1]!;
  const check = (ok: boolean, text: string) => lines.push(`${ok ? "PASS" : "MISS"}  ${text}`);
  check(median(startRatios) <= 0.1, `session start, side by side: median ${median(startRatios).toFixed(3)}× official ≤ 0.1×`);
  check(median(msm.start) * 10 <= median(official.start), `msm start ${fmt(median(msm.start))} ms ≤ official / 10 = ${fmt(median(official.start) / 10)} ms`);
  check(median(msm.call) <= median(official.call), `msm tool call, tiny graph: ${fmt(median(msm.call))} ms ≤ official ${fmt(median(official.call))} ms`);
  check(
    median(msm.bigCall) <= median(official.bigCall),
    `msm tool call, ${BIG_GRAPH} entities: ${fmt(median(msm.bigCall))} ms ≤ official ${fmt(median(official.bigCall))} ms`,
  );
  check(msm.rss <= 40, `msm proxy RSS after calls ${fmt(msm.rss)} MB ≤ 40 MB`);
  check(
    msm.idleRss <= 40,
    `msm proxy RSS idle ${fmt(msm.idleRss)} MB ≤ 40 MB (of which private, not shared with other msm processes: ${fmt(msm.idlePrivate)} MB)`,
  );
  check(Math.max(...sigterm) <= 300, `SIGTERM → exit: max ${fmt(Math.max(...sigterm))} ms of 5 (median ${fmt(median(sigterm))} ms) ≤ 300 ms`);
  console.log(lines.join("\n"));
} finally {
  const lock = (() => {
    try {
      return JSON.parse(readFileSync(join(msmHome, "memory.lock"), "utf8"));
    } catch {
      return undefined;
    }
  })();
  if (lock?.pid) {
    try {
      process.kill(lock.pid, "SIGTERM");
    } catch {}
    await Bun.sleep(300);
  }
  rmSync(dir, { recursive: true, force: true });
}
