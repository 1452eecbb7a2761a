/**
 * Hosted stdio server benchmark (`npm run bench hosted`), each part side by side with its alternative in one run:
 *   sessions   10 editor sessions of @modelcontextprotocol/server-filesystem, each spawning its own server (direct)
 *              or running `msm proxy --target fs` in front of one hosted child (msm). Memory = total proportional
 *              set size (PSS, /proc/PID/smaps_rollup: shared pages split between their users) of every process each
 *              way runs; warm start = spawn → initialize answered, with msm's host and child already running.
 *   call       one tools/call (list_allowed_directories) round trip, sequential, a direct session, an msm session
 *              on the line wire and one on HTTP (MSM_WIRE=http) taking turns call by call, so all see the same load;
 *              BENCH_RUNS runs, each reported as msm's p50 minus direct's.
 *   throughput BENCH_TP_SESSIONS sessions × BENCH_TP_CALLS read_file calls at once, on one hosted child against as
 *              many direct children: calls per second and p50, BENCH_RUNS runs, direct and msm in turn.
 *   stall      one session gets a 50 MB answer from its child (tests/fixtures/big-stdio-server.mjs) while two
 *              sessions of another project of the same host call back to back: their slowest call then, against
 *              their slowest in as long a time without it; on the line wire and on HTTP.
 * Targets (issues #8, #26): PSS ≤ 0.5× direct, warm start ≤ 0.2× a direct spawn, call p50 ≤ direct + 0.2 ms,
 * throughput ≥ 1.0× and p50 ≤ 1.0× direct, the other sessions' worst call during a 50 MB answer ≤ 50 ms.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanEnv, LineSession, loadAverage, median, p95, processesOf, pssMb, spread } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const MSM = join(ROOT, "dist/msm");
const FILESYSTEM = join(ROOT, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
const BIG = join(ROOT, "tests/fixtures/big-stdio-server.mjs");
const NODE = Bun.which("node") ?? "node";
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TP_SESSIONS = Number(process.env.BENCH_TP_SESSIONS ?? 20);
const TP_CALLS = Number(process.env.BENCH_TP_CALLS ?? 100);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 50);

const dir = mkdtempSync(join(tmpdir(), "msm-bench-hosted-"));
const home = join(dir, "home");
const msmHome = join(home, ".mcp-session-manager");
mkdirSync(msmHome, { recursive: true, mode: 0o700 });
const targets = { fs: { command: NODE, args: [FILESYSTEM, "{project}"] }, big: { command: NODE, args: [BIG] } };
writeFileSync(join(msmHome, "config.json"), JSON.stringify({ supervisor: { port: 0 }, targets }));
const project = join(dir, "project");
mkdirSync(join(project, ".git"), { recursive: true });
writeFileSync(join(project, "readme.txt"), "hello");
const env = { ...cleanEnv(), HOME: home, MSM_HOME: msmHome };

/** One raw stdio session in a project of this bench's home. */
class Session extends LineSession {
  constructor(cmd: string[], extra: Record<string, string> = {}, cwd = project) {
    super(cmd, { cwd, env: { ...env, MSM_PROJECT_DIR: cwd, ...extra } });
  }
}
const DIRECT = [NODE, FILESYSTEM, project];
const VIA_MSM = [MSM, "proxy", "--target", "fs"];
const ON_HTTP = { MSM_WIRE: "http" };

const lockPid = (name: string) => {
  try {
    return JSON.parse(readFileSync(join(msmHome, `${name}.lock`), "utf8")).pid as number;
  } catch {
    return 0;
  }
};

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "—");
const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "—");
const log = (line: string) => process.stderr.write(`${line}\n`);
const lines: string[] = [];
const check = (ok: boolean, text: string) => lines.push(`${ok ? "PASS" : "MISS"}  ${text}`);

const callOf = (s: Session, name: string, args: object) => async () => {
  const answer = await s.request("tools/call", { name, arguments: args });
  if (answer.error) throw new Error(`tools/call ${name} failed: ${JSON.stringify(answer.error)}`);
};

interface Row {
  name: string;
  start: number[];
  pss: number;
  processes: number;
  perSession: number;
  detail: string;
}

/** N sessions opened one after the other, then left idle: their start times and the memory of everything. */
async function sessions(
  name: string,
  cmd: string[],
  pids: (sessions: Session[]) => number[],
  describe: (pids: number[]) => { perSession: number; detail: string },
): Promise<Row> {
  const opened: Session[] = [];
  const row: Row = { name, start: [], pss: NaN, processes: 0, perSession: NaN, detail: "" };
  try {
    for (let i = 0; i < SESSIONS; i++) {
      const s = new Session(cmd);
      opened.push(s);
      row.start.push(await s.open());
    }
    for (let n = 0; n < 20; n++) await callOf(opened[0]!, "list_allowed_directories", {})();
    // Sessions idle most of their life: memory once traffic pauses (msm's proxies collect garbage after 1 s).
    await Bun.sleep(2_500);
    const all = pids(opened);
    row.processes = all.length;
    row.pss = all.reduce((sum, pid) => sum + pssMb(pid), 0);
    Object.assign(row, describe(all));
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
  return row;
}

/** Calls on each session in turn, call by call: each one's p50 (ms). */
async function interleaved(list: Session[], calls: number): Promise<number[]> {
  const times: number[][] = list.map(() => []);
  for (let n = 0; n < 20; n++) for (const s of list) await callOf(s, "list_allowed_directories", {})();
  for (let n = 0; n < calls; n++) {
    for (const [i, s] of list.entries()) {
      const t = performance.now();
      await callOf(s, "list_allowed_directories", {})();
      times[i]!.push(performance.now() - t);
    }
  }
  return times.map(median);
}

/** `count` sessions of `cmd`, each making `calls` read_file calls back to back, all at once: calls/s and p50. */
async function throughput(cmd: string[], count: number, calls: number): Promise<{ perSecond: number; p50: number }> {
  const opened = Array.from({ length: count }, () => new Session(cmd));
  try {
    await Promise.all(opened.map((s) => s.open()));
    const read = (s: Session) => callOf(s, "read_file", { path: join(project, "readme.txt") });
    await Promise.all(
      opened.map(async (s) => {
        await read(s)();
        await read(s)();
      }),
    );
    const times: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      opened.map(async (s) => {
        for (let n = 0; n < calls; n++) {
          const t = performance.now();
          await read(s)();
          times.push(performance.now() - t);
        }
      }),
    );
    return { perSecond: (count * calls) / ((performance.now() - t0) / 1000), p50: median(times) };
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
}

/** Two sessions of project B call `small` back to back while `during` runs (or for `ms`): their slowest call (ms). */
async function slowestWhile(b: Session, c: Session, during: Promise<unknown> | number): Promise<{ max: number; calls: number }> {
  let done = false;
  const until = typeof during === "number" ? Bun.sleep(during) : during;
  void until.finally(() => (done = true));
  const times: number[] = [];
  const loop = async (s: Session) => {
    while (!done) {
      const t = performance.now();
      await callOf(s, "small", {})();
      times.push(performance.now() - t);
    }
  };
  await Promise.all([until, loop(b), loop(c)]);
  return { max: Math.max(...times), calls: times.length };
}

try {
  // Warm: the supervisor, the host and the project's child running, as for every session after the first.
  const first = new Session(VIA_MSM);
  const coldMs = await first.open();
  await callOf(first, "list_allowed_directories", {})();
  await first.close();

  log("sessions …");
  const direct = await sessions(
    `direct: ${SESSIONS} × node server-filesystem`,
    DIRECT,
    (opened) => opened.map((s) => s.proc.pid),
    (pids) => {
      const each = pids.reduce((sum, p) => sum + pssMb(p), 0) / pids.length;
      return { perSession: each, detail: `${each.toFixed(1)} MB per child` };
    },
  );
  const viaMsm = await sessions(
    `msm: ${SESSIONS} × msm proxy → host → 1 child`,
    VIA_MSM,
    () => processesOf(msmHome),
    (pids) => {
      const supervisor = lockPid("supervisor");
      const host = lockPid("fs");
      const others = pids.filter((p) => p !== supervisor && p !== host);
      const children = others.filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("server-filesystem"));
      const proxies = others.filter((p) => !children.includes(p));
      const sum = (xs: number[]) => xs.reduce((s, p) => s + pssMb(p), 0);
      return {
        perSession: sum(proxies) / proxies.length,
        detail: `proxies ${sum(proxies).toFixed(1)} MB (${proxies.length}), supervisor ${pssMb(supervisor).toFixed(1)} MB, host ${pssMb(host).toFixed(1)} MB, child ${sum(children).toFixed(1)} MB (${children.length})`,
      };
    },
  );

  log("call …");
  const callDiff: number[] = [];
  const callDiffHttp: number[] = [];
  const callDirect: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const list = [new Session(DIRECT), new Session(VIA_MSM), new Session(VIA_MSM, ON_HTTP)];
    try {
      for (const s of list) await s.open();
      const [d, m, h] = await interleaved(list, CALLS);
      callDirect.push(d!);
      callDiff.push(m! - d!);
      callDiffHttp.push(h! - d!);
    } finally {
      await Promise.all(list.map((s) => s.close()));
    }
  }

  log("throughput …");
  const tp = { direct: [] as { perSecond: number; p50: number }[], msm: [] as { perSecond: number; p50: number }[] };
  for (let run = 0; run < RUNS; run++) {
    tp.direct.push(await throughput(DIRECT, TP_SESSIONS, TP_CALLS));
    tp.msm.push(await throughput(VIA_MSM, TP_SESSIONS, TP_CALLS));
  }

  log("stall …");
  const stall: Record<"line" | "http", { base: number[]; during: number[]; bigMs: number[] }> = {
    line: { base: [], during: [], bigMs: [] },
    http: { base: [], during: [], bigMs: [] },
  };
  const projectB = join(dir, "project-b");
  mkdirSync(join(projectB, ".git"), { recursive: true });
  for (const wire of ["line", "http"] as const) {
    const extra = wire === "http" ? ON_HTTP : {};
    const a = new Session([MSM, "proxy", "--target", "big"], extra);
    const b = new Session([MSM, "proxy", "--target", "big"], extra, projectB);
    const c = new Session([MSM, "proxy", "--target", "big"], extra, projectB);
    try {
      for (const s of [a, b, c]) await s.open();
      for (let n = 0; n < 50; n++) for (const s of [a, b, c]) await callOf(s, "small", {})();
      for (let run = 0; run < RUNS; run++) {
        const t0 = performance.now();
        const big = a.request("tools/call", { name: "big", arguments: { mb: BIG_MB } }).then((answer) => {
          if (answer.bytes === undefined || answer.bytes < BIG_MB * 1e6)
            throw new Error(`the ${BIG_MB} MB answer came short: ${JSON.stringify(answer).slice(0, 200)}`);
          return performance.now() - t0;
        });
        const during = await slowestWhile(b, c, big);
        const bigMs = await big;
        const base = await slowestWhile(b, c, bigMs);
        stall[wire].during.push(during.max);
        stall[wire].base.push(base.max);
        stall[wire].bigMs.push(bigMs);
      }
    } finally {
      await Promise.all([a, b, c].map((s) => s.close()));
    }
  }

  const ratio = (a: number, b: number) => a / b;
  lines.push(
    `machine: ${navigator.hardwareConcurrency} cores, load average ${loadAverage()} at the end (shared: numbers move with other work); first msm session (cold: supervisor, host and child started) ${fmt(coldMs)} ms`,
    "",
    `| ${SESSIONS} sessions of server-filesystem | total PSS MB | per session MB | processes | session start median ms | start p95 ms | where the memory is |`,
    "|---|---:|---:|---:|---:|---:|---|",
    ...[direct, viaMsm].map(
      (r) => `| ${r.name} | ${fmt(r.pss)} | ${fmt(r.perSession)} | ${r.processes} | ${fmt(median(r.start))} | ${fmt(p95(r.start))} | ${r.detail} |`,
    ),
    "",
    `| figure (${RUNS} runs: min / median / max) | direct | msm | msm vs direct |`,
    "|---|---:|---:|---|",
    `| tools/call p50, line wire | ${spread(callDirect)} ms | | ${spread(callDiff, (n) => `${n >= 0 ? "+" : ""}${n.toFixed(2)}`)} ms |`,
    `| tools/call p50, HTTP (MSM_WIRE=http) | | | ${spread(callDiffHttp, (n) => `${n >= 0 ? "+" : ""}${n.toFixed(2)}`)} ms |`,
    `| ${TP_SESSIONS} sessions × ${TP_CALLS} read_file: calls/s | ${spread(
      tp.direct.map((r) => r.perSecond),
      (n) => n.toFixed(0),
    )} | ${spread(
      tp.msm.map((r) => r.perSecond),
      (n) => n.toFixed(0),
    )} | ${spread(tp.msm.map((r, i) => ratio(r.perSecond, tp.direct[i]!.perSecond)))}× |`,
    `| ${TP_SESSIONS} sessions × ${TP_CALLS} read_file: p50 ms | ${spread(tp.direct.map((r) => r.p50))} | ${spread(tp.msm.map((r) => r.p50))} | ${spread(
      tp.msm.map((r, i) => ratio(r.p50, tp.direct[i]!.p50)),
    )}× |`,
    "",
    `| a ${BIG_MB} MB answer to one session (${RUNS} runs: min / median / max) | the others' slowest call during it | their slowest in as long without it | the answer took |`,
    "|---|---:|---:|---:|",
    ...(["line", "http"] as const).map(
      (w) =>
        `| ${w === "line" ? "line wire" : "HTTP (MSM_WIRE=http)"} | ${spread(stall[w].during, fmt)} ms | ${spread(stall[w].base, fmt)} ms | ${spread(stall[w].bigMs, (n) => n.toFixed(0))} ms |`,
    ),
    "",
  );
  const pssRatio = viaMsm.pss / direct.pss;
  check(pssRatio <= 0.5, `total PSS msm/direct = ${fmt2(pssRatio)} ≤ 0.5 (stretch 0.3: ${pssRatio <= 0.3 ? "met" : "not met"})`);
  check(viaMsm.perSession <= 4, `proxy PSS per session ${fmt(viaMsm.perSession)} MB ≤ 4 MB (a direct server: ${fmt(direct.perSession)} MB)`);
  check(
    median(viaMsm.start) <= 0.2 * median(direct.start),
    `warm start ${fmt(median(viaMsm.start))} ms ≤ 0.2 × direct ${fmt(median(direct.start))} ms = ${fmt(0.2 * median(direct.start))} ms`,
  );
  check(median(callDiff) <= 0.2, `tools/call p50 over a direct child: median +${fmt2(median(callDiff))} ms ≤ +0.2 ms`);
  const tpRatios = tp.msm.map((r, i) => ratio(r.perSecond, tp.direct[i]!.perSecond));
  const p50Ratios = tp.msm.map((r, i) => ratio(r.p50, tp.direct[i]!.p50));
  check(median(tpRatios) >= 1, `throughput msm/direct median ${fmt2(median(tpRatios))}× ≥ 1.0×`);
  check(median(p50Ratios) <= 1, `throughput p50 msm/direct median ${fmt2(median(p50Ratios))}× ≤ 1.0×`);
  check(median(stall.line.during) <= 50, `others' slowest call during a ${BIG_MB} MB answer: median ${fmt(median(stall.line.during))} ms ≤ 50 ms`);
  console.log(lines.join("\n"));
} finally {
  // Stop everything msm started for the bench (by pid), then remove the temp home.
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
