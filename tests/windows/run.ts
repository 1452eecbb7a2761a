// npm run test:windows — the Windows smoke test: the windows-x64 release binary, run under Wine, used as an editor
// on Windows uses it. Wine ≥ 8.13 runs Bun's Windows runtime; Debian 12 has 8.0, so .ci/wine.sh builds a Debian 13
// chroot with Wine 10 in .cache/wine/root (ignored by git). Everything Windows-side runs in that chroot, in a private
// mount namespace (its /proc, /dev and /tmp vanish with it), against one persistent wineserver.
//
// Wine facts this relies on (DESIGN.md): a Linux process's pipes as msm.exe's stdio break Bun's stdin, so the MCP
// clients run inside Wine (client.ts under the Windows bun.exe); daemons inherit Wine's stdout/stderr, so every Wine
// command writes to files and is waited for by its exit, never by EOF. What Wine cannot prove is in docs/platforms.md.
//
// Ends with "test:windows: N passed, N failed"; exits 1 on any failure; prints why and exits 0 when it cannot run.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { runtime } from "../../release/runtimes.ts";

const REPO = resolve(import.meta.dir, "../..");
const ROOT = join(REPO, ".cache/wine/root");
const WINE = "/usr/lib/wine/wine64";
const WINESERVER = "/usr/lib/wine/wineserver64";
/** Our files inside the chroot: Z:\msm (Wine maps Z: to the chroot's /). */
const WORK = join(ROOT, "msm");
const Z = (sub: string) => `Z:\\msm\\${sub.replaceAll("/", "\\")}`;
const PREFIX = "/root/prefix";
const DRIVE_C = join(ROOT, PREFIX, "drive_c");
const USER_DIR = join(DRIVE_C, "users/root");
const MSM_HOME = join(USER_DIR, ".mcp-session-manager");
const APPDATA = join(USER_DIR, "AppData/Roaming");
/** Hard limit for the whole run: CI has 90 minutes for everything. */
const TOTAL_LIMIT_MS = 8 * 60_000;
const started = performance.now();

/** `--exe FILE`: smoke-test that msm.exe (a release's, an older build) instead of building this tree's. */
const exeAt = process.argv.indexOf("--exe");
const GIVEN_EXE = exeAt >= 0 ? resolve(process.argv[exeAt + 1] ?? "") : undefined;
if (GIVEN_EXE && !existsSync(GIVEN_EXE)) {
  say(`test:windows: --exe ${GIVEN_EXE} does not exist`);
  process.exit(2);
}
/** `--keep`: leave msm's daemons and the wineserver running at the end (to look around; the next run kills them). */
const KEEP = process.argv.includes("--keep");

const PROJECT_PLAIN = "C:\\projects\\plain";
const PROJECT_UNICODE = "C:\\projects\\José Проекты é";
/** Arguments Bun's own quoting refused for a batch file; {project} is replaced by the session's folder. */
const HOSTED_ARGS = ["100%", 'quote"inside', "%PATH%", "a&b|c", "(paren) ^caret !bang", "trailing\\", ""];

const cDrive = (windowsPath: string) => join(DRIVE_C, windowsPath.replace(/^C:\\/, "").replaceAll("\\", "/"));

function say(line: string): void {
  process.stdout.write(line + "\n");
}

function skip(why: string): never {
  say(`test:windows skipped: ${why}`);
  say("test:windows: 0 passed, 0 failed (skipped)");
  process.exit(0);
}

// ---- preflight --------------------------------------------------------------------------------------------------

if (process.platform !== "linux") skip("it runs the Windows binary under Wine on Linux");
if (process.getuid?.() !== 0) skip("it needs root (chroot and a private mount namespace for the Wine chroot)");
if (!existsSync(join(ROOT, WINE.slice(1)))) skip(`no Wine chroot at ${ROOT}: .ci/wine.sh builds it (debootstrap of Debian 13 with Wine 10, as root)`);
for (const tool of ["unshare", "nsenter", "chroot", "mount"]) if (!Bun.which(tool)) skip(`${tool} is not installed`);

/** Processes running inside our chroot (a previous run's, or this one's): the only ones this script ever kills. */
function chrootProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`) === ROOT) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * Windows processes started from our files (Z:\msm\): msm.exe in every role, the hosted server's cmd.exe and
 * bun.exe. Wine shows a process's Windows command line as its /proc cmdline.
 */
function ourProcesses(): { pid: number; command: string }[] {
  return chrootProcesses()
    .map((pid) => ({ pid, command: commandLineOf(pid) }))
    .filter((p) => /Z:\\msm\\/i.test(p.command));
}

const msmProcesses = () => ourProcesses().filter((p) => /msm\.exe/i.test(p.command));

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

const leftovers = chrootProcesses();
if (leftovers.length) {
  say(`killing ${leftovers.length} processes left in the chroot by an earlier run`);
  killAll(leftovers);
}

// ---- the namespace and Wine -------------------------------------------------------------------------------------

/** Holds the private mount namespace: /proc, /dev and a fresh /tmp mounted into the chroot, gone when it ends. */
const holder = Bun.spawn(
  [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    `mount -t proc proc '${ROOT}/proc' && mount --rbind /dev '${ROOT}/dev' && mount -t tmpfs tmpfs '${ROOT}/tmp' && echo ready && exec sleep ${Math.ceil(TOTAL_LIMIT_MS / 1000) + 600} >/dev/null 2>&1`,
  ],
  { stdin: "ignore", stdout: "pipe", stderr: "inherit" },
);
{
  const reader = holder.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => undefined)]);
  reader.releaseLock();
  if (!first || first.done || !new TextDecoder().decode(first.value).includes("ready")) {
    holder.kill("SIGKILL");
    skip("could not set up the chroot's mount namespace (unshare --mount failed)");
  }
}

const ENV: Record<string, string> = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  USER: "root",
  WINEPREFIX: PREFIX,
  WINEDEBUG: "-all",
  // Unix file names are UTF-8 only under a UTF-8 locale: `José Проекты é` must reach Windows intact.
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  // Searched before the Windows PATH: `echo-server` is found there as echo-server.cmd, as npx is on a real machine.
  WINEPATH: Z("tools"),
};

let serial = 0;

/** Ends every process this run started: Wine's (through its wineserver, then by pid), then the namespace. */
async function tearDown(): Promise<void> {
  await inChroot([WINESERVER, "-k"], { timeoutMs: 15_000 }).catch(() => {});
  killAll(chrootProcesses());
  holder.kill("SIGKILL");
  await holder.exited;
}

// Stopped from outside (CI's time limit, Ctrl-C): leave nothing running behind.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    say(`test:windows: ${sig}, stopping`);
    void tearDown().finally(() => process.exit(1));
  });
}

/**
 * Runs a command inside the chroot (a Windows program: [WINE, "C:\\...exe", ...]). Output goes to files, read
 * after exit: never a pipe, because daemons the program starts inherit Wine's stdout/stderr.
 */
async function inChroot(
  argv: string[],
  options: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const n = ++serial;
  mkdirSync(join(WORK, "logs"), { recursive: true });
  const outFile = join(WORK, "logs", `${n}.out`);
  const errFile = join(WORK, "logs", `${n}.err`);
  const out = openSync(outFile, "w");
  const err = openSync(errFile, "w");
  const t0 = performance.now();
  const child = Bun.spawn(
    ["nsenter", `--mount=/proc/${holder.pid}/ns/mnt`, "chroot", ROOT, ...(options.cwd ? ["sh", "-c", 'cd "$0" && exec "$@"', options.cwd] : []), ...argv],
    {
      stdin: "ignore",
      stdout: out,
      stderr: err,
      env: { ...ENV, ...options.env },
    },
  );
  closeSync(out);
  closeSync(err);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const stdout = readFileSync(outFile, "utf8");
  const stderr = readFileSync(errFile, "utf8");
  if (child.signalCode === "SIGKILL") return { code: null, stdout, stderr: `${stderr}\n(killed after ${timeoutMs / 1000} s)`, ms };
  return { code, stdout, stderr, ms };
}

const msm = (args: string[], options: { timeoutMs?: number } = {}) => inChroot([WINE, Z("msm.exe"), ...args], options);

// ---- the checks -------------------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
const failures: string[] = [];

async function check(name: string, body: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  if (t0 - started > TOTAL_LIMIT_MS) {
    failed++;
    failures.push(name);
    say(`FAIL ${name}: not run, test:windows is past its ${TOTAL_LIMIT_MS / 60_000} min limit`);
    return;
  }
  try {
    await body();
    passed++;
    say(`ok   ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed++;
    failures.push(name);
    say(`FAIL ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${(error as Error).message}`);
  }
}

function expect(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const clip = (text: string) => (text.length > 1500 ? `${text.slice(0, 1500)}…` : text).trim();

interface ClientResult {
  project: string;
  ok: boolean;
  steps: Record<string, any>;
  error?: string;
}

/** Runs client.ts inside Wine with a plan; its sessions' results. */
async function client(kind: "memory" | "argv", target: string, projects: string[], timeoutMs = 120_000): Promise<ClientResult[]> {
  const n = ++serial;
  const plan = { out: Z(`logs/client-${n}.json`), msm: Z("msm.exe"), kind, target, projects };
  writeFileSync(join(WORK, `plan-${n}.json`), JSON.stringify(plan));
  const run = await inChroot([WINE, Z("bun.exe"), Z("client.js"), Z(`plan-${n}.json`)], { timeoutMs });
  const file = join(WORK, `logs/client-${n}.json`);
  if (!existsSync(file)) throw new Error(`the client wrote no results (exit ${run.code}): ${clip(run.stderr + run.stdout)}`);
  const results = JSON.parse(readFileSync(file, "utf8")) as ClientResult[];
  for (const r of results) if (!r.ok) throw new Error(`session in ${r.project} failed: ${clip(r.error ?? "")}`);
  return results;
}

function checkMemorySession(r: ClientResult, project: string): void {
  const tag = project.split("\\").pop()!;
  const tools: string[] = r.steps.tools;
  for (const tool of [
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
    "memory_stats",
  ]) {
    expect(tools.includes(tool), `tools/list has no ${tool}: ${tools.join(", ")}`);
  }
  const names = (r.steps.graph.entities as { name: string }[]).map((e) => e.name).sort();
  expect(names.includes(`Alice ${tag}`) && names.includes("Bob"), `read_graph: ${JSON.stringify(names)}`);
  same(
    (r.steps.search.entities as { name: string }[]).map((e) => e.name),
    ["Bob"],
    "search_nodes coffee",
  );
  same(
    (r.steps.opened.entities as { name: string }[]).map((e) => e.name),
    [`Alice ${tag}`],
    "open_nodes",
  );
  expect((r.steps.graph.relations as unknown[]).length >= 1, "read_graph: no relation");
  same(r.steps.stats.scope, "project", "memory_stats scope");
  same(r.steps.stats.database, `${project}\\.claude\\memory.db`, "memory_stats database");
}

// ---- set up the Windows side ------------------------------------------------------------------------------------

let setupOk = true;
await check("setup: build windows-x64, the Windows bun.exe, the client and the .cmd-hosted server, a Wine prefix", async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(join(WORK, "tools"), { recursive: true });
  if (GIVEN_EXE) {
    await Bun.write(join(WORK, "msm.exe"), Bun.file(GIVEN_EXE));
  } else {
    const build = Bun.spawnSync([process.execPath, "build.ts", "--single", "--target", "windows-x64", "--outfile", join(WORK, "msm.exe")], {
      cwd: REPO,
      stdout: "pipe",
      stderr: "pipe",
      env: process.env,
    });
    expect(build.exitCode === 0, `build failed: ${build.stderr.toString()}`);
  }
  // The same runtime the binary is built on runs the client and the hosted server.
  const bunExe = await runtime("@oven/bun-windows-x64", "bin/bun.exe");
  await Bun.write(join(WORK, "bun.exe"), Bun.file(bunExe));
  await Bun.write(join(WORK, "tools/bun.exe"), Bun.file(bunExe));
  for (const [entry, out] of [
    ["client.ts", WORK],
    ["echo-server.ts", join(WORK, "tools")],
  ] as const) {
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, entry)], target: "bun", outdir: out, minify: false });
    expect(built.success, `bundling ${entry}: ${built.logs.join("\n")}`);
  }
  // A batch file in front of the server, as npm puts npx.cmd and every global tool: cmd.exe runs it, and `%*`
  // hands it the arguments — which is where `100%` and `quote"inside` used to be lost.
  writeFileSync(join(WORK, "tools/echo-server.cmd"), '@ECHO OFF\r\n"%~dp0\\bun.exe" "%~dp0\\echo-server.js" %*\r\n');

  if (!existsSync(join(ROOT, PREFIX, "system.reg"))) {
    const boot = await inChroot([WINE, "wineboot", "-i"], { timeoutMs: 180_000 });
    // The registry reaches the disk when the wineserver exits (a few seconds after its last client).
    await inChroot([WINESERVER, "-w"], { timeoutMs: 60_000 });
    expect(existsSync(join(ROOT, PREFIX, "system.reg")), `wineboot failed (${boot.code}): ${clip(boot.stderr)}`);
  }
  // One wineserver for the whole run (each Wine start otherwise pays for its own): -p keeps it until -k.
  await inChroot([WINESERVER, "-p"], { timeoutMs: 30_000 });
  // A clean Windows user for this run: msm's state, editors' config, the projects.
  for (const dir of [MSM_HOME, join(USER_DIR, ".claude"), join(APPDATA, "Claude"), join(DRIVE_C, "projects")]) rmSync(dir, { recursive: true, force: true });
  for (const project of [PROJECT_PLAIN, PROJECT_UNICODE]) mkdirSync(join(cDrive(project), ".git"), { recursive: true });
  mkdirSync(MSM_HOME, { recursive: true });
  const config = { supervisor: { port: 0 }, targets: { memory: { port: 0 }, echo: { command: "echo-server", args: [...HOSTED_ARGS, "{project}"] } } };
  writeFileSync(join(MSM_HOME, "config.json"), JSON.stringify(config, null, 2));
});
if (failed) setupOk = false;

if (setupOk) {
  await check("msm.exe --version", async () => {
    const r = await msm(["--version"]);
    expect(r.code === 0, `exit ${r.code}: ${clip(r.stderr)}`);
    expect(r.stdout.startsWith(`${pkg.version} (commit `) || /^\d+\.\d+\.\d+/.test(r.stdout), `output: ${r.stdout}`);
  });

  await check("msm.exe status before any session: exit 0, supervisor not running", async () => {
    const r = await msm(["status"]);
    expect(r.code === 0, `exit ${r.code}: ${clip(r.stderr + r.stdout)}`);
    expect(r.stdout.includes("supervisor not running"), `output: ${clip(r.stdout)}`);
  });

  await check("three sessions starting at once: one supervisor, one memory daemon", async () => {
    const results = await client("memory", "memory", [PROJECT_PLAIN, PROJECT_PLAIN, PROJECT_PLAIN]);
    same(results.length, 3, "sessions");
    const running = msmProcesses();
    const roles = (role: string) => running.filter((p) => new RegExp(`msm\\.exe"?\\s+${role}\\b`, "i").test(p.command)).length;
    if (process.env.MSM_WINDOWS_DEBUG) say(running.map((p) => `  ${p.pid} ${p.command}`).join("\n"));
    same(
      { supervisor: roles("supervisor"), memory: roles("memory") },
      { supervisor: 1, memory: 1 },
      `msm.exe processes (${running.map((p) => p.command).join(" | ")})`,
    );
    expect(existsSync(join(MSM_HOME, "supervisor.lock")) && existsSync(join(MSM_HOME, "memory.lock")), "supervisor.lock and memory.lock");
    // The line wire on Windows: a loopback TCP port (docs/platforms.md), named in the lock.
    const wire = (JSON.parse(readFileSync(join(MSM_HOME, "memory.lock"), "utf8")) as { wire?: string }).wire;
    expect(/^tcp:\d+$/.test(wire ?? ""), `memory.lock names no line wire on loopback TCP (wire: ${wire})`);
  });

  await check(`a full memory session (initialize, tools/list, writes, reads, search) in ${PROJECT_PLAIN}`, async () => {
    const [r] = await client("memory", "memory", [PROJECT_PLAIN]);
    checkMemorySession(r!, PROJECT_PLAIN);
    expect(existsSync(join(cDrive(PROJECT_PLAIN), ".claude/memory.db")), "no .claude\\memory.db in the project");
  });

  await check(`the same from a project folder with a non-ASCII name (${PROJECT_UNICODE})`, async () => {
    const [r] = await client("memory", "memory", [PROJECT_UNICODE]);
    checkMemorySession(r!, PROJECT_UNICODE);
    expect(existsSync(join(cDrive(PROJECT_UNICODE), ".claude/memory.db")), "no .claude\\memory.db in the project");
  });

  await check("msm.exe memory export while the daemon runs (its database open)", async () => {
    const out = `${PROJECT_PLAIN}\\export.jsonl`;
    const r = await msm(["memory", "export", "--project", PROJECT_PLAIN, "--output", out]);
    expect(r.code === 0, `exit ${r.code}: ${clip(r.stderr + r.stdout)}`);
    const text = readFileSync(cDrive(out), "utf8").trim();
    expect(text, `the export is empty (${clip(r.stderr)})`);
    const lines = text.split("\n").map((l) => JSON.parse(l) as { type: string; name?: string });
    expect(
      lines.some((l) => l.type === "entity" && l.name === "Alice plain"),
      `export: ${clip(JSON.stringify(lines))}`,
    );
    expect(
      msmProcesses().some((p) => /msm\.exe"?\s+memory\b/i.test(p.command)),
      "the daemon is no longer running",
    );
  });

  await check('a hosted server behind a .cmd shim gets 100%, quote"inside, %PATH%, a&b|c intact; one child per project in msm status', async () => {
    const results = await client("argv", "echo", [PROJECT_PLAIN, PROJECT_UNICODE]);
    for (const [i, project] of [PROJECT_PLAIN, PROJECT_UNICODE].entries()) {
      same(results[i]!.steps.argv.argv, [...HOSTED_ARGS, project], `the argv of the server in ${project}`);
      same(results[i]!.steps.argv.cwd, project, `the working directory of the server in ${project}`);
    }
    // What `msm status` shows of them: pids and memory come from kernel32 through bun:ffi.
    const status = await msm(["status", "--json"]);
    expect(status.code === 0, `status: exit ${status.code}: ${clip(status.stderr)}`);
    const echo = (
      JSON.parse(status.stdout) as { targets: { name: string; state: string; children?: { project: string; pid: number; rssBytes: number | null }[] }[] }
    ).targets.find((t) => t.name === "echo");
    same(echo?.state, "running", "the echo host's state");
    same(echo?.children?.map((c) => c.project).sort(), [PROJECT_PLAIN, PROJECT_UNICODE].sort(), "the echo host's children");
    expect(
      echo!.children!.every((c) => c.pid > 0 && (c.rssBytes ?? 0) > 0),
      `children without pid or memory: ${JSON.stringify(echo!.children)}`,
    );
  });

  await check("the dashboard's memory explorer answers 200 with the project's graph", async () => {
    const ui = await msm(["ui", "--no-open"]);
    expect(ui.code === 0, `msm ui: exit ${ui.code}: ${clip(ui.stderr)}`);
    const url = ui.stdout
      .trim()
      .split("\n")
      .find((l) => l.startsWith("http://"));
    expect(url, `no login URL: ${ui.stdout}`);
    // Wine's sockets are this machine's: the supervisor listens on our loopback.
    const login = await fetch(url, { redirect: "manual" });
    const cookie = login.headers.get("set-cookie")?.split(";")[0];
    expect(cookie, `login answered ${login.status} without a cookie`);
    const origin = new URL(url).origin;
    const get = (path: string) => fetch(`${origin}${path}`, { headers: { cookie } });
    const dbs = await get("/ui/api/databases");
    const dbText = await dbs.text();
    same(dbs.status, 200, `GET /ui/api/databases (${clip(dbText)})`);
    const list = JSON.parse(dbText) as { id?: string; file?: string; path?: string }[] | { databases: { id?: string; file?: string }[] };
    const entries = Array.isArray(list) ? list : list.databases;
    const plain = entries.find((d) => JSON.stringify(d).includes("plain"));
    expect(plain, `no database of ${PROJECT_PLAIN} listed: ${clip(dbText)}`);
    const id = (plain as Record<string, string>).id ?? (plain as Record<string, string>).file ?? (plain as Record<string, string>).path;
    const search = await get(`/ui/api/search?db=${encodeURIComponent(id!)}&q=Alice`);
    const text = await search.text();
    same(search.status, 200, `GET /ui/api/search (${clip(text)})`);
    expect(text.includes("Alice plain"), `search found no Alice: ${clip(text)}`);
  });

  const desktop = join(APPDATA, "Claude/claude_desktop_config.json");
  const original = '{\r\n  "mcpServers": {\r\n    "other": { "command": "C:\\\\tools\\\\other.exe", "args": ["ü"] }\r\n  },\r\n  "theme": "dark"\r\n}\r\n';
  await check("install into %APPDATA% (Claude Desktop), then doctor exits 0 on the healthy setup", async () => {
    mkdirSync(join(APPDATA, "Claude"), { recursive: true });
    writeFileSync(desktop, original);
    const r = await msm(["install", "claude-desktop"]);
    expect(r.code === 0, `install: exit ${r.code}: ${clip(r.stderr + r.stdout)}`);
    const installed = JSON.parse(readFileSync(desktop, "utf8")) as { mcpServers: Record<string, { command: string }> };
    expect(installed.mcpServers.memory?.command?.toLowerCase().endsWith("msm.exe"), `no msm entry: ${clip(readFileSync(desktop, "utf8"))}`);
    expect(installed.mcpServers.other, "the user's own entry is gone");
    const doctor = await msm(["doctor"]);
    expect(doctor.code === 0, `doctor: exit ${doctor.code}:\n${clip(doctor.stdout + doctor.stderr)}`);
  });

  await check("uninstall leaves %APPDATA%'s file byte-identical", async () => {
    const r = await msm(["uninstall", "claude-desktop"]);
    expect(r.code === 0, `uninstall: exit ${r.code}: ${clip(r.stderr + r.stdout)}`);
    const after = readFileSync(desktop);
    expect(after.equals(Buffer.from(original)), `differs:\n${after.toString()}`);
  });

  await check("msm.exe stop --all leaves nothing running", async () => {
    const r = await msm(["stop", "--all"], { timeoutMs: 60_000 });
    expect(r.code === 0, `exit ${r.code}: ${clip(r.stdout + r.stderr)}`);
    expect(r.stdout.includes("stopped memory") && r.stdout.includes("stopped the supervisor"), `output: ${clip(r.stdout)}`);
    // The supervisor, every daemon, and the hosted servers' process trees (cmd.exe → bun.exe).
    const deadline = Date.now() + 15_000;
    while (ourProcesses().length && Date.now() < deadline) await Bun.sleep(100);
    same(
      ourProcesses().map((p) => p.command),
      [],
      "processes still running",
    );
    const locks = readdirSync(MSM_HOME).filter((f) => f.endsWith(".lock"));
    same(locks, [], "lock files left");
  });
}

// ---- tear down: our wineserver (and with it every Wine process), the namespace, anything left in the chroot -------

if (KEEP) say(`--keep: msm's daemons and the wineserver are left running (mount namespace of pid ${holder.pid})`);
else await tearDown();

const seconds = ((performance.now() - started) / 1000).toFixed(0);
if (failures.length) say(`failed: ${failures.join("; ")}`);
say(`test:windows: ${passed} passed, ${failed} failed (${seconds} s; logs in ${join(WORK, "logs")})`);
process.exit(failed ? 1 : 0);
