/**
 * Speed against the official server (`npm run bench speed`, issue #15), side by side in one run, each driven the way
 * an editor drives it: a Node MCP SDK client over stdio (bench/speed-client.mjs, run by `node`) spawns
 *   official   node @modelcontextprotocol/server-memory (its JSONL file)
 *   msm        dist/msm proxy --target memory → the shared msm memory daemon (SQLite)
 * and times sequential tool calls:
 *   tiny       open_nodes on a one-entity graph (the per-call floor); rounds alternate official/msm
 *   common     search_nodes "note 37 " at 10k entities (both) and 100k, 1M (msm only). Every trigram of the query
 *              is in every entity ("note <i> on page 3 of 37 pages"), so a trigram index cannot narrow it: the
 *              worst case for msm's search, which must then cost no more than one scan
 *   rare       search_nodes for one entity's own words, for contrast
 * Then the breakdown of the msm call: the daemon alone, over HTTP, on a kept-alive raw connection (what the proxy
 * uses), to Bun's fetch and to Node's, and its /health (the HTTP floor). Targets: tiny ≤ 1.0× official (stretch 0.5×), common at 10k ≤ 0.1×.
 *   SPEED_SIZES=10000,100000 npm run bench speed     fewer sizes (default 10000,100000,1000000)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GraphStore } from "../src/memory/sqlite/store.ts";
import { entity, loadAverage, median, relation, spread } from "./lib.ts";
import { MSM, Sandbox, requireBinary } from "../tests/helpers/sandbox.ts";
import { OFFICIAL_MEMORY } from "../tests/helpers/official.ts";

const CLIENT = resolve(import.meta.dir, "speed-client.mjs");
const SIZES = (process.env.SPEED_SIZES ?? "10000,100000,1000000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const TINY_SAMPLES = Number(process.env.SPEED_TINY_SAMPLES ?? 400);
const TINY_RUNS = Number(process.env.SPEED_TINY_RUNS ?? 3);
const COMMON = "note 37 ";
/** Samples per size: the official server and big graphs take long per call. */
const searchSamples = (n: number, official: boolean) => (official ? 30 : n <= 10_000 ? 200 : n <= 100_000 ? 40 : 12);

/** The benches' graph (bench/lib.ts), its third observation swapped for the one that makes every trigram of COMMON
 * common. */
function speedEntity(i: number) {
  const { observations, ...rest } = entity(i);
  return { ...rest, observations: [observations[0]!, observations[1]!, observations[3]!, `note ${i} on page 3 of 37 pages`] };
}
const rareQuery = (n: number) => `Observation ${Math.floor(n * 0.37)}:`;

interface Step {
  label: string;
  tool: string;
  arguments: object;
  warmup?: number;
  samples?: number;
}
type Results = Record<string, { times: number[]; matches?: string[] }>;

async function runNode(script: string, plan: object, runtime = "node"): Promise<any> {
  const child = Bun.spawn([runtime, script, JSON.stringify(plan)], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${runtime} ${script} exited ${code}: ${err.slice(-500)}`);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

const sandbox = new Sandbox();
const official = (file: string, steps: Step[]): Promise<Results> =>
  runNode(CLIENT, { command: "node", args: [OFFICIAL_MEMORY], env: { ...sandbox.env, MEMORY_FILE_PATH: file }, cwd: sandbox.root, steps });
const msm = (project: string, steps: Step[], extra: Record<string, string> = {}): Promise<Results> =>
  runNode(CLIENT, { command: MSM, args: ["proxy", "--target", "memory"], env: { ...sandbox.env, MSM_PROJECT_DIR: project, ...extra }, cwd: project, steps });

function officialFile(name: string, n: number): string {
  const file = join(sandbox.root, `${name}.jsonl`);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ type: "entity", ...speedEntity(i) }));
  for (let i = 0; i < n; i += 2) lines.push(JSON.stringify({ type: "relation", ...relation(i, n) }));
  writeFileSync(file, lines.join("\n") + (n ? "\n" : ""));
  return file;
}

/** The same graph in a project's database, loaded as `msm memory import` does (one index merge at the end). */
function msmProject(name: string, n: number): string {
  const project = sandbox.project(name);
  if (n === 0) return project;
  mkdirSync(join(project, ".claude"), { recursive: true, mode: 0o700 });
  const store = new GraphStore(join(project, ".claude", "memory.db"));
  for (let i = 0; i < n; i += 10_000) {
    const count = Math.min(10_000, n - i);
    store.importGraph(
      Array.from({ length: count }, (_, k) => speedEntity(i + k)),
      Array.from({ length: Math.ceil(count / 2) }, (_, k) => relation(i + k * 2, n)),
    );
  }
  store.optimizeSearchIndex();
  store.close();
  return project;
}

const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : "—");
const log = (line: string) => process.stderr.write(`${line}\n`);

requireBinary();
const rows: string[] = [];
const checks: string[] = [];
try {
  // Tiny graph: runs alternate official, msm on the line wire and msm on HTTP, so load on a shared machine falls on
  // all alike; each run gives one ratio.
  const tinyCreate: Step = { label: "create", tool: "create_entities", arguments: { entities: [{ name: "tiny", entityType: "thing", observations: ["x"] }] } };
  const tinyOpen: Step = { label: "tiny", tool: "open_nodes", arguments: { names: ["tiny"] }, warmup: 50, samples: TINY_SAMPLES };
  const tinyProject = msmProject("tiny", 0);
  const tinyFile = officialFile("tiny", 0);
  const tiny = { official: [] as number[], msm: [] as number[], http: [] as number[] };
  for (let run = 0; run < TINY_RUNS; run++) {
    log(`tiny graph, run ${run + 1} …`);
    const steps = run === 0 ? [tinyCreate, tinyOpen] : [tinyOpen];
    tiny.official.push(median((await official(tinyFile, steps)).tiny!.times));
    tiny.msm.push(median((await msm(tinyProject, steps)).tiny!.times));
    tiny.http.push(median((await msm(tinyProject, [tinyOpen], { MSM_WIRE: "http" })).tiny!.times));
  }
  const ratios = tiny.msm.map((m, i) => m / tiny.official[i]!);
  const httpRatios = tiny.http.map((m, i) => m / tiny.official[i]!);
  rows.push(`| open_nodes, 1 entity (${TINY_RUNS} runs: min / median / max) | ${spread(tiny.official)} ms | ${spread(tiny.msm)} ms | ${spread(ratios)}× |`);
  rows.push(`| ↳ the same, msm proxy on HTTP (MSM_WIRE=http) | | ${spread(tiny.http)} ms | ${spread(httpRatios)}× |`);
  checks.push(
    `${median(ratios) <= 1 ? "PASS" : "MISS"}  tools/call on a tiny graph: msm ${median(ratios).toFixed(2)}× official, median of ${TINY_RUNS} runs (target ≤ 1.0×, stretch 0.5×${median(ratios) <= 0.5 ? ": met" : ""})`,
  );

  // Where the msm call's time goes: the stdio hop alone (a Bun server that does nothing), then the daemon alone
  // over HTTP, to each runtime's fetch.
  const echo = await runNode(CLIENT, {
    command: process.execPath,
    args: [resolve(import.meta.dir, "speed-echo.mjs")],
    env: sandbox.env,
    cwd: sandbox.root,
    steps: [{ ...tinyOpen, label: "echo" }],
  });
  rows.push(`| ↳ stdio floor: the same client to a Bun stdio server that does nothing | | ${ms(median(echo.echo!.times))} | |`);
  const lock = sandbox.lock("memory");
  if (lock) {
    const plan = {
      url: `http://127.0.0.1:${lock.port}/mcp`,
      token: sandbox.token(),
      project: tinyProject,
      step: { tool: "open_nodes", arguments: { names: ["tiny"] }, warmup: 50, samples: TINY_SAMPLES },
    };
    const bun = await runNode(CLIENT, { ...plan, wire: (lock as { wire?: string }).wire }, process.execPath);
    const node = await runNode(CLIENT, plan, "node");
    if (bun.line) rows.push(`| ↳ msm daemon alone, the line wire (the proxy's path now): one connection, JSON-RPC lines | | ${ms(median(bun.line))} | |`);
    rows.push(
      `| ↳ msm daemon alone, HTTP, a kept-alive raw connection from Bun (the proxy's path before the wire) | | ${ms(median(bun.raw))} | answer: ${bun.contentType} |`,
    );
    rows.push(`| ↳ msm daemon alone, HTTP, Bun fetch; /health | | ${ms(median(bun.call))}; ${ms(median(bun.health))} | |`);
    rows.push(`| ↳ msm daemon alone, HTTP, Node fetch; /health | | ${ms(median(node.call))}; ${ms(median(node.health))} | |`);
  }

  for (const n of SIZES) {
    log(`${n.toLocaleString("en")} entities: loading …`);
    const steps = (official: boolean): Step[] => [
      { label: "common", tool: "search_nodes", arguments: { query: COMMON }, warmup: official ? 2 : 3, samples: searchSamples(n, official) },
      { label: "rare", tool: "search_nodes", arguments: { query: rareQuery(n) }, warmup: 2, samples: searchSamples(n, official) },
    ];
    const project = msmProject(`size-${n}`, n);
    log(`${n.toLocaleString("en")} entities: msm …`);
    const mine = await msm(project, steps(false));
    let theirs: Results | undefined;
    if (n === 10_000) {
      log(`${n.toLocaleString("en")} entities: official …`);
      theirs = await official(officialFile(`size-${n}`, n), steps(true));
    }
    for (const label of ["common", "rare"] as const) {
      const query = label === "common" ? COMMON : rareQuery(n);
      const o = theirs ? median(theirs[label]!.times) : NaN;
      const m = median(mine[label]!.times);
      const same = theirs ? JSON.stringify(theirs[label]!.matches) === JSON.stringify(mine[label]!.matches) : undefined;
      const note = `${mine[label]!.matches?.length ?? "?"} matches${same === undefined ? "" : same ? ", same set" : ", DIFFERENT SET"}`;
      rows.push(
        `| search_nodes ${JSON.stringify(query)}, ${n.toLocaleString("en")} entities | ${ms(o)} | ${ms(m)} | ${theirs ? `${(m / o).toFixed(3)}×, ` : ""}${note} |`,
      );
      if (label === "common" && theirs) {
        checks.push(`${m <= o * 0.1 ? "PASS" : "MISS"}  common-word search at 10k: msm ${(m / o).toFixed(3)}× official (target ≤ 0.1×)`);
      }
      if (same === false) checks.push(`FAIL  ${label} search at ${n}: msm and the official server found different entities`);
    }
  }
} finally {
  await sandbox.cleanup();
}

const load = loadAverage();
console.log(
  [
    `Node ${Bun.spawnSync(["node", "--version"]).stdout.toString().trim()} MCP SDK client over stdio, p50 of sequential calls; ${navigator.hardwareConcurrency} cores, load average ${load}`,
    "",
    "| call | official | msm | msm / official |",
    "|---|---:|---:|---|",
    ...rows,
    "",
    ...checks,
  ].join("\n"),
);
