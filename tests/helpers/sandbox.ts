import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ResourceUpdatedNotificationSchema, type ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";

/** The compiled binary under test; `npm test` builds it before running the suite. */
export const MSM = resolve(import.meta.dir, "../../dist/msm");

export function requireBinary(): void {
  if (!existsSync(MSM)) throw new Error(`${MSM} is missing: run "npm run build" (npm test does it for you)`);
}

/**
 * Sandboxes a running test created and has not cleaned up yet; the test preload cleans them after each test, whether
 * it passed, failed or timed out. Sandboxes made outside a test (a beforeAll) belong to their file's own hooks.
 */
let testSandboxes: Set<Sandbox> | undefined;

export function beginTest(): void {
  testSandboxes = new Set();
}

export async function cleanupLeftovers(): Promise<void> {
  const left = testSandboxes;
  testSandboxes = undefined;
  for (const sandbox of left ?? []) await sandbox.cleanup();
}

/**
 * The config a sandbox writes: the supervisor and the memory daemon on free ports (port 0) unless the test names one,
 * so no test binds msm's real 3199 or 3100 — two suites on one machine, or the user's own msm, would collide.
 */
export function withFreePorts(config: object): object {
  const out: Record<string, unknown> = { ...config };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (out.supervisor === undefined) out.supervisor = { port: 0 };
  else if (isObject(out.supervisor) && !("port" in out.supervisor)) out.supervisor = { ...out.supervisor, port: 0 };
  const targets = out.targets ?? {};
  if (isObject(targets) && (targets.memory === undefined || (isObject(targets.memory) && !("port" in targets.memory)))) {
    out.targets = { ...targets, memory: { ...(targets.memory as object | undefined), port: 0 } };
  }
  return out;
}

/**
 * A private HOME + MSM_HOME for one test, its supervisor and daemons on free ports. Declare it with `await using`:
 * leaving the scope (or the test preload, after a test that failed or timed out) kills every process the test
 * started — proxies it tracked and daemons named by lock files — by pid, then deletes it all.
 */
export class Sandbox implements AsyncDisposable {
  readonly root: string;
  /** True once cleanup() started: loops a test runs against this sandbox stop on it. */
  closed = false;
  readonly home: string;
  readonly msmHome: string;
  readonly env: Record<string, string>;
  private readonly pids = new Set<number>();
  private cleaning: Promise<void> | undefined;

  constructor(config: object = {}) {
    const base = process.env.MSM_TEST_ROOT ?? "/tmp";
    this.root = mkdtempSync(join(base, "sandbox-"));
    this.home = join(this.root, "home");
    this.msmHome = join(this.home, ".mcp-session-manager");
    mkdirSync(this.msmHome, { recursive: true, mode: 0o700 });
    this.writeConfig(config);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    delete env.CLAUDE_PROJECT_DIR;
    delete env.MSM_PROJECT_DIR;
    delete env.MSM_BACKOFF_MS; // a test that wants a short crash-loop backoff passes it explicitly
    // No test reaches the person's own keychain: libsecret's D-Bus points at nothing unless a test starts a private
    // keyring (helpers/keyring.ts).
    this.env = { ...env, HOME: this.home, MSM_HOME: this.msmHome, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(this.root, "no-bus")}` };
    testSandboxes?.add(this);
  }

  /** Replaces config.json (free ports filled in as for the constructor's). */
  writeConfig(config: object): void {
    writeFileSync(join(this.msmHome, "config.json"), JSON.stringify(withFreePorts(config), null, 2));
  }

  /** A project folder (with .git, as a real one has) inside the sandbox. */
  project(name: string): string {
    const dir = join(this.root, "projects", name);
    mkdirSync(join(dir, ".git"), { recursive: true });
    return dir;
  }

  track(pid: number | undefined | null): void {
    if (pid) this.pids.add(pid);
  }

  lock(name: string): { pid: number; port: number; transport: string; startedAt: string; version: string } | undefined {
    try {
      return JSON.parse(readFileSync(join(this.msmHome, `${name}.lock`), "utf8"));
    } catch {
      return undefined;
    }
  }

  token(): string {
    return readFileSync(join(this.msmHome, "token"), "utf8").trim();
  }

  /** Every pid named by a lock file right now. */
  lockPids(): number[] {
    if (!existsSync(this.msmHome)) return [];
    return readdirSync(this.msmHome)
      .filter((f) => f.endsWith(".lock"))
      .map((f) => this.lock(f.slice(0, -5))?.pid)
      .filter((p): p is number => typeof p === "number");
  }

  /**
   * The supervisor goes first (SIGKILL, so it cannot restart what we stop next); then proxies and daemons get
   * SIGTERM — daemons as whole process groups, so an external server's children go too; finally anything still
   * running with this sandbox's MSM_HOME in its environment is killed, so nothing outlives the test. Runs once:
   * a second call (a test's own, then its `await using`) waits for the first.
   */
  cleanup(): Promise<void> {
    this.cleaning ??= this.teardown();
    return this.cleaning;
  }

  private async teardown(): Promise<void> {
    this.closed = true;
    testSandboxes?.delete(this);
    const supervisor = this.lock("supervisor")?.pid;
    if (supervisor) {
      kill(supervisor, "SIGKILL");
      await waitFor(() => !alive(supervisor), 3000, "supervisor to die").catch(() => {});
    }
    const daemons = new Set(this.lockPids());
    const all = new Set([...this.pids, ...daemons]);
    for (const pid of all) kill(daemons.has(pid) ? -pid : pid, "SIGTERM");
    for (const pid of all) kill(pid, "SIGTERM");
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && [...all].some(alive)) await Bun.sleep(25);
    for (const pid of all) if (alive(pid)) kill(pid, "SIGKILL");
    for (const pid of daemons) kill(-pid, "SIGKILL");
    for (const pid of this.strays()) kill(pid, "SIGKILL");
    rmSync(this.root, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }

  /** Live processes whose environment names this sandbox's MSM_HOME (Linux; [] elsewhere). */
  strays(): number[] {
    let entries: string[];
    try {
      entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
    } catch {
      return [];
    }
    const needle = `MSM_HOME=${this.msmHome}\0`;
    return entries.map(Number).filter((pid) => {
      if (pid === process.pid || !alive(pid)) return false;
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").includes(needle);
      } catch {
        return false;
      }
    });
  }
}

/**
 * Running, or still tearing down. A reparented daemon can sit as a zombie for a second until PID 1 reaps it: that
 * is dead. But a killed multi-threaded process (Bun) shows its main thread as a zombie while its other threads are
 * still exiting, and until the last one has, its sockets are open: its port accepts connections and then resets
 * them. Dead means a zombie with no thread left but the main one.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z") return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return existsSync(`/proc/${pid}`);
  }
}

export function kill(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(pid, signal);
  } catch {}
}

export interface Session {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  stderr: () => string;
  close: () => Promise<void>;
}

/**
 * One editor session: the real MCP SDK client spawning `dist/msm proxy --target NAME` (or `--profile NAME`) over stdio, exactly as
 * Claude Code does, in the given working directory.
 */
export async function openSession(
  sandbox: Sandbox,
  cwd: string,
  options: {
    target?: string;
    /** `msm proxy --profile NAME` instead of a target (docs/profiles.md). */
    profile?: string;
    args?: string[];
    env?: Record<string, string>;
    clientName?: string;
    /** Client capabilities to declare (sampling, roots, elicitation), and handlers to set before connecting. */
    capabilities?: ClientCapabilities;
    setup?: (client: Client) => void;
  } = {},
): Promise<Session> {
  requireBinary();
  const transport = new StdioClientTransport({
    command: MSM,
    args: ["proxy", ...(options.profile ? ["--profile", options.profile] : ["--target", options.target ?? "memory"]), ...(options.args ?? [])],
    env: { ...sandbox.env, ...options.env },
    cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: options.clientName ?? "msm-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  options.setup?.(client);
  await client.connect(transport);
  const pid = transport.pid!;
  sandbox.track(pid);
  return {
    client,
    transport,
    pid,
    stderr: () => stderr,
    close: () => client.close().catch(() => {}),
  };
}

/** Calls a tool and returns its structuredContent (throws on a tool error, with the server's text). */
export async function call<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`tool ${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** Polls `check` until it returns truthy or the time is up. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** Runs `dist/msm ARGS` in the sandbox (a person typing a command) and collects its output. */
export async function msm(sandbox: Sandbox, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  requireBinary();
  const child = Bun.spawn([MSM, ...args], { env: { ...sandbox.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Pids of live processes in this sandbox whose command line contains `needle`. */
export function processesMatching(sandbox: Sandbox, needle: string): number[] {
  return sandbox.strays().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(needle);
    } catch {
      return false;
    }
  });
}

/** Subscribes `client` to the memory graph resource and counts the update notifications it receives from then on. */
export async function watchGraph(client: Client): Promise<{ updates: number }> {
  const seen = { updates: 0 };
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    if (n.params.uri === "memory://knowledge-graph") seen.updates++;
  });
  await client.subscribeResource({ uri: "memory://knowledge-graph" });
  return seen;
}
