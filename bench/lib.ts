// What the benchmarks share: statistics, the generated graph, and a raw stdio MCP session. Only measuring code here;
// each bench keeps its own scenario.
import { readdirSync, readFileSync } from "node:fs";

/** The value at fraction `p` of the sorted samples (p = 0.5: the median; NaN when there are none). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}
export const median = (samples: number[]) => percentile(samples, 0.5);
export const p95 = (samples: number[]) => percentile(samples, 0.95);

/** Milliseconds `fn` took; a tool result with isError fails the bench rather than timing an error. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const result = (await fn()) as { isError?: boolean; content?: unknown } | undefined;
  if (result?.isError) throw new Error(JSON.stringify(result.content));
  return performance.now() - start;
}

/** process.env without undefined values and without the variables that would pin a session to the caller's project. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.CLAUDE_PROJECT_DIR;
  delete env.MSM_PROJECT_DIR;
  return env;
}

export const TOPICS = ["coffee", "rust", "typescript", "sqlite", "editor", "memory", "proxy", "daemon", "graph", "search"];

/** An entity shaped like a real memory: sentence-long observations (the official server was measured at 30 ms per
 * search on such a graph; two-word observations would flatter it). The same graph in every bench, so their figures
 * compare. */
export function entity(i: number) {
  const topic = (k: number) => TOPICS[(i * k + k) % TOPICS.length]!;
  return {
    name: `entity-${i}`,
    entityType: TOPICS[i % TOPICS.length]!,
    observations: [
      `Prefers ${topic(3)} over ${topic(5)} for day-to-day work; mentioned it again in review ${i % 365}`,
      `Working on the ${topic(7)} migration in batch ${Math.floor(i / 1000)}, blocked by ${topic(11)} configuration`,
      `Asked to be reminded about the ${topic(13)} benchmark numbers before the release of version ${i % 50}`,
      `Observation ${i}: usually answers within a day and keeps notes about ${topic(17)} in the shared folder`,
    ],
  };
}
export type Entity = ReturnType<typeof entity>;

/** One relation per entity, to a spread-out other one. */
export const relation = (i: number, n: number) => ({ from: `entity-${i}`, to: `entity-${(i * 31 + 7) % n}`, relationType: "relates to" });

/** A /proc/PID/status field in MB (VmRSS: resident; RssAnon: private, without the shared executable's pages). */
export function statusMb(pid: number, field: "VmRSS" | "RssAnon"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** How long a bench waits for one answer before it gives up. */
const STEP_TIMEOUT_MS = 120_000;

/** An answer line at least this long is not parsed by a LineSession: its id is read from its end, its size kept. */
const BIG_LINE_BYTES = 1024 * 1024;

/** One stdio MCP session driven with raw JSON-RPC lines (no SDK client in the measurement). */
export class LineSession {
  readonly proc;
  private waiting = new Map<number, (m: { result?: unknown; error?: unknown; bytes?: number }) => void>();
  private nextId = 1;

  constructor(cmd: string[], options: { cwd: string; env: Record<string, string> }) {
    this.proc = Bun.spawn(cmd, { cwd: options.cwd, env: options.env, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    void this.read();
  }

  /** Lines as bytes, joined only when whole (a 50 MB answer must not cost the bench a string rebuilt per chunk). */
  private async read() {
    const decoder = new TextDecoder();
    let parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of this.proc.stdout) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        parts.push(chunk.subarray(start, nl));
        size += nl - start;
        const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        parts = [];
        start = nl + 1;
        if (size >= BIG_LINE_BYTES) {
          const id = /"id":(\d+)\}\s*$/.exec(decoder.decode(bytes.subarray(-64)))?.[1];
          if (id !== undefined) this.waiting.get(Number(id))?.({ result: null, bytes: size });
          size = 0;
          continue;
        }
        size = 0;
        const line = decoder.decode(bytes).trim();
        if (!line.startsWith("{")) continue;
        const message = JSON.parse(line);
        if (message.id !== undefined && message.method === undefined) this.waiting.get(message.id)?.(message);
        // A server→client request (roots from server-filesystem): a client without the capability is never asked,
        // but answer anyway so nothing waits on the bench.
        else if (message.id !== undefined && message.method) this.send({ jsonrpc: "2.0", id: message.id, result: {} });
      }
      if (start < chunk.length) {
        parts.push(chunk.subarray(start));
        size += chunk.length - start;
      }
    }
  }

  request(method: string, params: object = {}): Promise<{ result?: unknown; error?: unknown; bytes?: number }> {
    const id = this.nextId++;
    const answer = new Promise<{ result?: unknown; error?: unknown; bytes?: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(m);
      });
    });
    this.send({ jsonrpc: "2.0", id, method, params });
    return answer;
  }

  send(message: object) {
    this.proc.stdin.write(JSON.stringify(message) + "\n");
    this.proc.stdin.flush();
  }

  initialize() {
    return this.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } });
  }

  /** initialize + notifications/initialized; returns how long initialize took (ms). */
  async open(): Promise<number> {
    const t0 = performance.now();
    const init = await this.initialize();
    if (init.error) throw new Error(`initialize failed: ${JSON.stringify(init.error)}`);
    const ms = performance.now() - t0;
    this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    return ms;
  }

  /** Closes stdin as an editor does; a session still there after 5 s is killed. */
  async close() {
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5_000);
    await this.proc.exited;
    clearTimeout(timer);
  }
}

/** "min / median / max" of one figure over several runs, each formatted by `fmt`. */
export function spread(values: number[], fmt: (n: number) => string = (n) => n.toFixed(2)): string {
  if (!values.length) return "—";
  const sorted = [...values].sort((a, b) => a - b);
  return `${fmt(sorted[0]!)} / ${fmt(median(sorted))} / ${fmt(sorted.at(-1)!)}`;
}

/** The machine's load average (1, 5, 15 min) now, for the line every bench prints with its table. */
export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "? ? ?";
  }
}

/** Proportional set size of one process in MB (0 when it is gone): shared pages split between their users. */
export function pssMb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Every live process (zombies aside) whose environment names `msmHome` as MSM_HOME: msm's proxies, supervisor,
 * daemons and the children they started, or direct servers a bench gave the same variable as a marker. */
export function processesOf(msmHome: string): number[] {
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
