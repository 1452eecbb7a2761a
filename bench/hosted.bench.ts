/**
 * Hosted stdio server benchmark (`npm run bench hosted`), side by side in one run:
 *   direct   10 editor sessions, each spawning its own @modelcontextprotocol/server-filesystem over stdio (today)
 *   msm      10 editor sessions, each `msm proxy --target fs`, sharing one hosted child for the project
 * Memory = total proportional set size (PSS, /proc/PID/smaps_rollup: shared pages split between their users) of
 * every process each way runs — for msm the proxies, the supervisor, the host daemon and the child.
 * Warm start = spawn → initialize answered, with msm's host and child already running. Call = one tools/call
 * (list_allowed_directories) round trip, sequential, direct and msm calls interleaved so both see the same load. Targets (issue #8): PSS ≤ 0.5× direct (stretch 0.3×), warm
 * start ≤ 0.2× a direct spawn, call p50 at most 0.5 ms above direct stdio.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanEnv, LineSession, median, p95 } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const MSM = join(ROOT, "dist/msm");
const FILESYSTEM = join(ROOT, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
const NODE = Bun.which("node") ?? "node";
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);

const dir = mkdtempSync(join(tmpdir(), "msm-bench-hosted-"));
const home = join(dir, "home");
const msmHome = join(home, ".mcp-session-manager");
mkdirSync(msmHome, { recursive: true, mode: 0o700 });
writeFileSync(join(msmHome, "config.json"), JSON.stringify({ supervisor: { port: 0 }, targets: { fs: { command: NODE, args: [FILESYSTEM, "{project}"] } } }));
const project = join(dir, "project");
mkdirSync(join(project, ".git"), { recursive: true });
writeFileSync(join(project, "readme.txt"), "hello");
const env = { ...cleanEnv(), HOME: home, MSM_HOME: msmHome };

/** One raw stdio session in this bench's project and home. */
class Session extends LineSession {
  constructor(cmd: string[]) {
    super(cmd, { cwd: project, env });
  }
}

/** PSS of one process in MB (0 when it is gone). */
function pssMb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Every live process whose environment names this bench's MSM_HOME (supervisor, host, children, proxies). */
function msmProcesses(): number[] {
  const needle = `MSM_HOME=${msmHome}\0`;
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").includes(needle) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    });
}

interface Row {
  name: string;
  start: number[];
  call: number[];
  pss: number;
  processes: number;
  detail: string;
}

async function run(name: string, cmd: string[], pids: (sessions: Session[]) => number[], describe: (pids: number[]) => string): Promise<Row> {
  const sessions: Session[] = [];
  const row: Row = { name, start: [], call: [], pss: NaN, processes: 0, detail: "" };
  try {
    for (let i = 0; i < SESSIONS; i++) {
      const s = new Session(cmd);
      sessions.push(s);
      row.start.push(await s.open());
    }
    for (let n = 0; n < 20; n++) await sessions[0]!.request("tools/call", { name: "list_allowed_directories", arguments: {} });
    // Sessions idle most of their life: memory once traffic pauses (msm's proxies collect garbage after 1 s).
    await Bun.sleep(2_500);
    const all = pids(sessions);
    row.processes = all.length;
    row.pss = all.reduce((sum, pid) => sum + pssMb(pid), 0);
    row.detail = describe(all);
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
  return row;
}

try {
  // Warm: the supervisor, the host and the project's child running, as for every session after the first.
  const first = new Session([MSM, "proxy", "--target", "fs"]);
  const coldMs = await first.open();
  await first.request("tools/call", { name: "list_allowed_directories", arguments: {} });
  await first.close();

  const direct = await run(
    `direct: ${SESSIONS} × node server-filesystem`,
    [NODE, FILESYSTEM, project],
    (sessions) => sessions.map((s) => s.proc.pid),
    (pids) => `${(pids.reduce((sum, p) => sum + pssMb(p), 0) / pids.length).toFixed(1)} MB per child`,
  );

  const viaMsm = await run(
    `msm: ${SESSIONS} × msm proxy → host → 1 child`,
    [MSM, "proxy", "--target", "fs"],
    () => msmProcesses(),
    (pids) => {
      const read = (name: string) => {
        try {
          return JSON.parse(readFileSync(join(msmHome, `${name}.lock`), "utf8")).pid as number;
        } catch {
          return 0;
        }
      };
      const supervisor = read("supervisor");
      const host = read("fs");
      const others = pids.filter((p) => p !== supervisor && p !== host);
      const children = others.filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("server-filesystem"));
      const proxies = others.filter((p) => !children.includes(p));
      const sum = (xs: number[]) => xs.reduce((s, p) => s + pssMb(p), 0);
      return `proxies ${sum(proxies).toFixed(1)} MB (${proxies.length}), supervisor ${pssMb(supervisor).toFixed(1)} MB, host ${pssMb(host).toFixed(1)} MB, child ${sum(children).toFixed(1)} MB (${children.length})`;
    },
  );

  // Calls are timed interleaved, one direct and one msm call in turn, so both see the same load on a shared machine.
  {
    const d = new Session([NODE, FILESYSTEM, project]);
    const m = new Session([MSM, "proxy", "--target", "fs"]);
    try {
      await d.open();
      await m.open();
      const call = async (s: Session, into: number[] | undefined) => {
        const t = performance.now();
        const answer = await s.request("tools/call", { name: "list_allowed_directories", arguments: {} });
        if (answer.error) throw new Error(`tools/call failed: ${JSON.stringify(answer.error)}`);
        into?.push(performance.now() - t);
      };
      for (let n = 0; n < 20; n++) await Promise.all([call(d, undefined), call(m, undefined)]);
      for (let n = 0; n < CALLS; n++) {
        await call(d, direct.call);
        await call(m, viaMsm.call);
      }
    } finally {
      await Promise.all([d.close(), m.close()]);
    }
  }

  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "—");
  const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "—");
  const lines = [
    `machine: ${navigator.hardwareConcurrency} cores, load average ${load} (shared: numbers move with other work); first msm session (cold: supervisor, host and child started) ${fmt(coldMs)} ms`,
    "",
    `| ${SESSIONS} sessions of server-filesystem | total PSS MB | processes | session start median ms | start p95 ms | tools/call p50 ms | call p95 ms | where the memory is |`,
    "|---|---:|---:|---:|---:|---:|---:|---|",
    ...[direct, viaMsm].map(
      (r) =>
        `| ${r.name} | ${fmt(r.pss)} | ${r.processes} | ${fmt(median(r.start))} | ${fmt(p95(r.start))} | ${fmt2(median(r.call))} | ${fmt2(p95(r.call))} | ${r.detail} |`,
    ),
    "",
  ];
  const check = (ok: boolean, text: string) => lines.push(`${ok ? "PASS" : "MISS"}  ${text}`);
  const ratio = viaMsm.pss / direct.pss;
  check(ratio <= 0.5, `total PSS msm/direct = ${fmt2(ratio)} ≤ 0.5 (stretch 0.3: ${ratio <= 0.3 ? "met" : "not met"})`);
  check(
    median(viaMsm.start) <= 0.2 * median(direct.start),
    `warm start ${fmt(median(viaMsm.start))} ms ≤ 0.2 × direct ${fmt(median(direct.start))} ms = ${fmt(0.2 * median(direct.start))} ms`,
  );
  check(median(viaMsm.call) - median(direct.call) <= 0.5, `tools/call p50 ${fmt2(median(viaMsm.call))} ms ≤ direct ${fmt2(median(direct.call))} ms + 0.5 ms`);
  console.log(lines.join("\n"));
} finally {
  // Stop everything msm started for the bench (by pid), then remove the temp home.
  for (const pid of msmProcesses()) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  await Bun.sleep(1_500);
  for (const pid of msmProcesses()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
