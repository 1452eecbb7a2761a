/**
 * Many sessions calling one hosted server at once (`npm run bench pool`), side by side in each run (issue #26):
 *   direct        20 editor sessions, each spawning its own @modelcontextprotocol/server-filesystem
 *   msm, 1        20 × `msm proxy --target fs`, sharing one hosted child (`instances` 1, the default)
 *   msm, auto     20 × `msm proxy --target fspool`, the same server with `"instances": "auto"` (one per core)
 * Each session sends 100 `read_file` calls one after the other, all 20 sessions at once. Reported per way: calls per
 * second over the whole burst and the p50 of one call, min/median/max over BENCH_RUNS runs (default 3), and the
 * ratios to direct. The ways take turns within a run (in a rotated order) so each sees the same load on a shared
 * machine; the load average is printed before and after.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanEnv, LineSession, median, percentile, processesOf } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const MSM = join(ROOT, "dist/msm");
const FILESYSTEM = join(ROOT, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
const NODE = Bun.which("node") ?? "node";
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20);
const CALLS = Number(process.env.BENCH_CALLS ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const dir = mkdtempSync(join(tmpdir(), "msm-bench-pool-"));
const home = join(dir, "home");
const msmHome = join(home, ".mcp-session-manager");
mkdirSync(msmHome, { recursive: true, mode: 0o700 });
const fs = { command: NODE, args: [FILESYSTEM, "{project}"] };
writeFileSync(join(msmHome, "config.json"), JSON.stringify({ supervisor: { port: 0 }, targets: { fs, fspool: { ...fs, instances: "auto" } } }));
const project = join(dir, "project");
mkdirSync(join(project, ".git"), { recursive: true });
const file = join(project, "readme.txt");
writeFileSync(file, "hello from the pool bench\n".repeat(40));
const env = { ...cleanEnv(), HOME: home, MSM_HOME: msmHome };

interface Way {
  name: string;
  cmd: string[];
}
const WAYS: Way[] = [
  { name: `direct: ${SESSIONS} × node server-filesystem`, cmd: [NODE, FILESYSTEM, project] },
  { name: `msm, instances 1: ${SESSIONS} proxies → 1 child`, cmd: [MSM, "proxy", "--target", "fs"] },
  { name: `msm, instances auto (${availableParallelism()}): ${SESSIONS} proxies → pool`, cmd: [MSM, "proxy", "--target", "fspool"] },
];

/** CPU seconds (user + system) each process has used so far. */
function cpuSeconds(pids: number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {}
  }
  return ticks;
}

/** Which part of msm (or the server) a process is: for where the CPU of a burst went. */
function role(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmdline.includes("server-filesystem")) return "children";
    if (cmdline.includes("\0host\0")) return "host";
    if (cmdline.includes("\0proxy\0")) return "proxies";
    return "supervisor";
  } catch {
    return "gone";
  }
}

/** One burst: SESSIONS sessions open, warm up, then each sends CALLS read_file calls in a row, all at once. */
async function burst(way: Way): Promise<{ perSecond: number; p50: number; cpu: string }> {
  const sessions = Array.from({ length: SESSIONS }, () => new LineSession(way.cmd, { cwd: project, env }));
  try {
    await Promise.all(sessions.map((s) => s.open()));
    const call = async (s: LineSession) => {
      const answer = await s.request("tools/call", { name: "read_file", arguments: { path: file } });
      if (answer.error || (answer.result as { isError?: boolean }).isError) throw new Error(`read_file failed: ${JSON.stringify(answer)}`);
    };
    // Every session reaches its child (msm: lazy sessions connect at their first call) before the clock starts.
    await Promise.all(
      sessions.map(async (s) => {
        for (let n = 0; n < 5; n++) await call(s);
      }),
    );
    const direct = way.cmd[0] === NODE;
    const pids = direct ? sessions.map((s) => s.proc.pid) : processesOf(msmHome);
    const before = cpuSeconds(pids);
    const times: number[] = [];
    const start = performance.now();
    await Promise.all(
      sessions.map(async (s) => {
        for (let n = 0; n < CALLS; n++) {
          const t = performance.now();
          await call(s);
          times.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const used = new Map<string, number>();
    for (const [pid, after] of cpuSeconds(pids)) {
      const name = direct ? "children" : role(pid);
      used.set(name, (used.get(name) ?? 0) + after - (before.get(pid) ?? after));
    }
    const cpu = [...used].map(([name, s]) => `${name} ${s.toFixed(1)}`).join(", ");
    return { perSecond: (SESSIONS * CALLS) / seconds, p50: median(times), cpu: `CPU s ${cpu} in ${seconds.toFixed(1)} s` };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}

const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

try {
  const loadBefore = loadavg();
  const results = WAYS.map(() => ({ perSecond: [] as number[], p50: [] as number[] }));
  for (let run = 0; run < RUNS; run++) {
    // Rotate who goes first: a machine that gets busier during a run does not always hit the same way.
    for (let k = 0; k < WAYS.length; k++) {
      const i = (run + k) % WAYS.length;
      const r = await burst(WAYS[i]!);
      results[i]!.perSecond.push(r.perSecond);
      results[i]!.p50.push(r.p50);
      console.error(`run ${run + 1}: ${WAYS[i]!.name}: ${r.perSecond.toFixed(0)} calls/s, p50 ${r.p50.toFixed(2)} ms; ${r.cpu}`);
    }
  }
  const mmm = (xs: number[], digits: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]!.toFixed(digits)} / ${median(s).toFixed(digits)} / ${percentile(s, 1).toFixed(digits)}`;
  };
  const direct = results[0]!;
  const lines = [
    `machine: ${availableParallelism()} cores, load average before ${loadBefore}, after ${loadavg()}; ${RUNS} runs of ${SESSIONS} sessions × ${CALLS} read_file`,
    "",
    "| way | calls/s min / median / max | p50 ms min / median / max | throughput ÷ direct (median) | p50 ÷ direct (median) |",
    "|---|---:|---:|---:|---:|",
    ...WAYS.map((way, i) => {
      const r = results[i]!;
      return `| ${way.name} | ${mmm(r.perSecond, 0)} | ${mmm(r.p50, 2)} | ${(median(r.perSecond) / median(direct.perSecond)).toFixed(2)}× | ${(median(r.p50) / median(direct.p50)).toFixed(2)}× |`;
    }),
  ];
  console.log(lines.join("\n"));
} finally {
  for (const pid of processesOf(msmHome)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  await Bun.sleep(1_500);
  for (const pid of processesOf(msmHome)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
