/**
 * The discovery cache benchmark (`npm run bench -- lazy`, issue #23): 12 configured stdio servers — the reference
 * servers (filesystem, everything, memory), msm's conformance / raw / SDK-v2 fixtures, three Python servers
 * (mcp-server-time, -git, -fetch, from the .python venv) and three servers that take 1.5, 3 and 5 s to start (a cold
 * `npx -y` / `uvx`) — and one cold editor session opening all 12 at once as Claude Code does (spawn, initialize,
 * initialized, tools/list, and prompts/list and resources/list where the server offers them). Side by side in one
 * run, each from nothing running:
 *   direct          the session spawns the 12 servers itself (what editors do today)
 *   msm, cold       `msm proxy` × 12 with `lazy: false`, no daemon running yet (the day's first session)
 *   msm, warm       the same, the hosts and children already running (another session has them)
 *   msm, cached     `msm proxy` × 12 with a warm discovery cache and nothing running
 * Reported: time until all 12 answered their discovery (and the p50 per server), processes running then, their total
 * PSS, and the first tools/call's latency to a fast server (filesystem) and to the slowest one (5 s start).
 * BENCH_RUNS (default 3) repeats the whole thing; medians with min–max. BENCH_MODES=cached runs only the last way.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cleanEnv, LineSession, median, processesOf, pssMb } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const MSM = join(ROOT, "dist/msm");
const NODE = Bun.which("node") ?? "node";
const BUN = process.execPath;
const VENV = join(ROOT, ".python/venv/bin");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const fixture = (name: string) => join(ROOT, "tests/fixtures", name);
const modules = (path: string) => join(ROOT, "node_modules", path);

if (!existsSync(join(VENV, "mcp-server-time"))) execFileSync("bash", [join(ROOT, "tests/python/setup.sh")], { stdio: "inherit" });

interface Server {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** The 12 servers, as an editor's config would run them in `project`; `{project}` for msm's config. */
function servers(project: string | "{project}"): Server[] {
  const slow = (name: string, ms: number): Server => ({ name, command: BUN, args: [fixture("listing-server.ts")], env: { LISTING_DELAY_MS: String(ms) } });
  return [
    { name: "filesystem", command: NODE, args: [modules("@modelcontextprotocol/server-filesystem/dist/index.js"), project] },
    { name: "everything", command: NODE, args: [modules("@modelcontextprotocol/server-everything/dist/index.js"), "stdio"] },
    {
      name: "memory-official",
      command: NODE,
      args: [modules("@modelcontextprotocol/server-memory/dist/index.js")],
      env: { MEMORY_FILE_PATH: `${project}/memory.jsonl` },
    },
    { name: "conformance", command: BUN, args: [fixture("conformance-stdio-server.ts")] },
    { name: "modern", command: BUN, args: [fixture("modern-stdio-server.ts")] },
    { name: "raw", command: BUN, args: [fixture("raw-stdio-server.ts")] },
    { name: "time", command: join(VENV, "mcp-server-time"), args: [] },
    { name: "git", command: join(VENV, "mcp-server-git"), args: ["--repository", project] },
    { name: "fetch", command: join(VENV, "mcp-server-fetch"), args: [] },
    slow("slow-1.5s", 1500),
    slow("slow-3s", 3000),
    slow("slow-5s", 5000),
  ];
}

/** A fresh HOME/MSM_HOME and a git project; `lazy` goes into every target when set. */
function sandbox(lazy?: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "msm-bench-lazy-"));
  const home = join(dir, "home");
  const msmHome = join(home, ".mcp-session-manager");
  mkdirSync(msmHome, { recursive: true, mode: 0o700 });
  const project = join(dir, "project");
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "README.md"), "# bench project\n");
  execFileSync("git", ["init", "-q", project]);
  execFileSync("git", ["-C", project, "-c", "user.email=b@b", "-c", "user.name=b", "add", "."]);
  execFileSync("git", ["-C", project, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "init"]);
  const targets = Object.fromEntries(
    servers("{project}").map((s) => [s.name, { command: s.command, args: s.args, ...(s.env ? { env: s.env } : {}), ...(lazy === undefined ? {} : { lazy }) }]),
  );
  writeFileSync(join(msmHome, "config.json"), JSON.stringify({ supervisor: { port: 0 }, targets: { memory: { port: 0 }, ...targets } }));
  const env = { ...cleanEnv(), HOME: home, MSM_HOME: msmHome };
  return { dir, msmHome, project, env };
}
type Box = ReturnType<typeof sandbox>;

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(50);
  }
}

/** `msm stop --all`, then nothing of the box left running. */
async function stopAll(box: Box): Promise<void> {
  execFileSync(MSM, ["stop", "--all"], { env: box.env, stdio: "ignore" });
  await until(() => processesOf(box.msmHome).length === 0, 30_000, "every msm process gone");
}

interface Opened {
  sessions: { name: string; session: LineSession }[];
  /** Spawn → every discovery answer, per server (ms). */
  each: number[];
  all: number;
}

/** One editor session opening all 12 servers at once: spawn, initialize, initialized, and the lists offered. */
async function openAll(box: Box, launch: (s: Server) => string[]): Promise<Opened> {
  const t0 = performance.now();
  const list = servers(box.project);
  const sessions = list.map((s) => ({ name: s.name, session: new LineSession(launch(s), { cwd: box.project, env: { ...box.env, ...s.env } }) }));
  const each = await Promise.all(
    sessions.map(async ({ session }) => {
      const init = await session.initialize();
      if (init.error) throw new Error(`initialize: ${JSON.stringify(init.error)}`);
      session.send({ jsonrpc: "2.0", method: "notifications/initialized" });
      const offered = (init.result as { capabilities?: Record<string, unknown> }).capabilities ?? {};
      const asks = [session.request("tools/list")];
      if (offered.prompts) asks.push(session.request("prompts/list"));
      if (offered.resources) asks.push(session.request("resources/list"));
      for (const answer of await Promise.all(asks)) if (answer.error) throw new Error(JSON.stringify(answer.error));
      return performance.now() - t0;
    }),
  );
  return { sessions, each, all: Math.max(...each) };
}

async function firstCall(opened: Opened, name: string, tool: string, args: object = {}): Promise<number> {
  const session = opened.sessions.find((s) => s.name === name)!.session;
  const t0 = performance.now();
  const answer = await session.request("tools/call", { name: tool, arguments: args });
  if (answer.error) throw new Error(`${name} ${tool}: ${JSON.stringify(answer.error)}`);
  return performance.now() - t0;
}

interface Row {
  all: number[];
  p50: number[];
  processes: number[];
  pss: number[];
  fast: number[];
  slow: number[];
}
const rows = new Map<string, Row>();
function record(name: string, opened: Opened, fast: number, slow: number, running: { processes: number; pss: number }) {
  const row = rows.get(name) ?? { all: [], p50: [], processes: [], pss: [], fast: [], slow: [] };
  row.all.push(opened.all);
  row.p50.push(median(opened.each));
  row.processes.push(running.processes);
  row.pss.push(running.pss);
  row.fast.push(fast);
  row.slow.push(slow);
  rows.set(name, row);
}

/** What runs once the session opened (after a moment for late starters to show). */
async function running(box: Box): Promise<{ processes: number; pss: number }> {
  await Bun.sleep(500);
  const pids = processesOf(box.msmHome);
  return { processes: pids.length, pss: pids.reduce((sum, pid) => sum + pssMb(pid), 0) };
}

async function measure(name: string, box: Box, launch: (s: Server) => string[]): Promise<void> {
  const opened = await openAll(box, launch);
  const now = await running(box);
  const fast = await firstCall(opened, "filesystem", "list_allowed_directories");
  const slow = await firstCall(opened, "slow-5s", "alpha");
  record(name, opened, fast, slow, now);
  await Promise.all(opened.sessions.map(({ session }) => session.close()));
}

const viaMsm = (s: Server) => [MSM, "proxy", "--target", s.name];
const direct = (s: Server) => [s.command, ...s.args];

/** BENCH_MODES=cached measures only the warm cache (e.g. to repeat it on a quiet machine). */
const ONLY_CACHED = process.env.BENCH_MODES === "cached";
for (let run = 1; run <= RUNS; run++) {
  console.error(`run ${run}/${RUNS}`);
  if (ONLY_CACHED) {
    const c = sandbox();
    const warming = await openAll(c, viaMsm);
    await Promise.all(warming.sessions.map(({ session }) => session.close()));
    await until(() => readdirSync(join(c.msmHome, "cache")).length === 12, 10_000, "12 cache entries");
    await stopAll(c);
    await measure("msm, warm cache, nothing running", c, viaMsm);
    await stopAll(c);
    rmSync(c.dir, { recursive: true, force: true });
    continue;
  }
  const a = sandbox();
  await measure("direct (12 servers per session)", a, direct);
  await until(() => processesOf(a.msmHome).length === 0, 30_000, "direct servers gone");

  const b = sandbox(false);
  await measure("msm, lazy: false, nothing running", b, viaMsm);
  await measure("msm, lazy: false, daemons warm", b, viaMsm);
  await stopAll(b);

  const c = sandbox();
  const warming = await openAll(c, viaMsm);
  await Promise.all(warming.sessions.map(({ session }) => session.close()));
  await until(() => readdirSync(join(c.msmHome, "cache")).length === 12, 10_000, "12 cache entries");
  await stopAll(c);
  await measure("msm, warm cache, nothing running", c, viaMsm);
  await stopAll(c);
  for (const box of [a, b, c]) rmSync(box.dir, { recursive: true, force: true });
}

const spread = (xs: number[], digits = 0) =>
  xs.length > 1 ? `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : median(xs).toFixed(digits);
console.log(`\n12 stdio servers, one cold editor session opening all of them; ${RUNS} runs: median (min–max)\n`);
console.log(
  "| way | all 12 discovered (ms) | p50 per server (ms) | processes running | PSS (MB) | first call, filesystem (ms) | first call, 5 s server (ms) |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [name, r] of rows)
  console.log(`| ${name} | ${spread(r.all)} | ${spread(r.p50)} | ${spread(r.processes)} | ${spread(r.pss)} | ${spread(r.fast, 1)} | ${spread(r.slow)} |`);
