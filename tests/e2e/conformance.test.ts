// The official conformance suite (@modelcontextprotocol/conformance) in CI: its server scenarios against the memory
// daemon, its client scenarios through `msm proxy` (tests/conformance/client.ts drives the proxy over stdio, as an
// editor does: `--url` for the plain scenarios, a remote target whose relay logs in for the auth ones). Which scenarios fail is pinned by name in tests/conformance/expected-failures.yml: a new
// failure fails the test, and so does an expected failure that starts passing (the list must stay true).
import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSM, Sandbox, openSession, requireBinary } from "../helpers/sandbox.ts";

const CONFORMANCE = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/conformance/dist/index.js");
/** The suite's next release (0.2.0-alpha), the first with 2026-07-28 scenarios; installed under an alias. */
const CONFORMANCE_NEXT = resolve(import.meta.dir, "../../node_modules/mcp-conformance-next/dist/index.js");
const ADAPTER = resolve(import.meta.dir, "../conformance/client.ts");
const EXPECTED = resolve(import.meta.dir, "../conformance/expected-failures.yml");
/** Every scenario runs one after another (the suite's own --suite runs them all at once, which skews sse-retry's
 * timing checks on a busy 2-core machine); a few minutes in all. */
const WHOLE_SUITE_MS = 600_000;

/** The two lists of the expected-failures file (a YAML subset: `key:` then `  - name` lines). */
function expectedFailures(): { server: string[]; client: string[]; modern: string[] } {
  const lists: Record<string, string[]> = { server: [], client: [], modern: [] };
  let current: string[] | undefined;
  for (const raw of readFileSync(EXPECTED, "utf8").split("\n")) {
    const line = raw.replace(/#.*/, "").trimEnd();
    const key = /^(\w+):$/.exec(line)?.[1];
    if (key) current = lists[key] ??= [];
    else if (/^\s+- /.test(line)) current?.push(line.replace(/^\s+- /, "").trim());
  }
  return { server: lists.server!, client: lists.client!, modern: lists.modern! };
}

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

/** Runs the conformance CLI (under Bun: it does not run under Node 20) and returns each scenario's checks. */
async function conformance(sandbox: Sandbox, args: string[], outDir: string, cli = CONFORMANCE): Promise<Map<string, Check[]>> {
  mkdirSync(outDir, { recursive: true });
  const child = Bun.spawn([process.execPath, cli, ...args, "--output-dir", outDir], {
    env: { ...sandbox.env, MSM_BIN: MSM },
    stdout: "pipe",
    stderr: "pipe",
    cwd: sandbox.root,
  });
  sandbox.track(child.pid);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const results = new Map<string, Check[]>();
  for (const dir of readdirSync(outDir)) {
    try {
      const checks = JSON.parse(readFileSync(join(outDir, dir, "checks.json"), "utf8")) as Check[];
      // Directory names are "<scenario>-<ISO time>"; auth scenarios ("auth/x") become nested folders.
      results.set(dir.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, ""), checks);
    } catch {}
    try {
      for (const sub of readdirSync(join(outDir, dir))) {
        const checks = JSON.parse(readFileSync(join(outDir, dir, sub, "checks.json"), "utf8")) as Check[];
        results.set(`${dir}/${sub.replace(/-\d{4}-\d\d-\d\dT.*$/, "")}`, checks);
      }
    } catch {}
  }
  if (!results.size) throw new Error(`conformance produced no results:\n${stdout}\n${stderr}`);
  return results;
}

/** A scenario fails when any check fails; warnings (e.g. "reconnected slightly late" on a busy machine) pass. */
function failing(results: Map<string, Check[]>): string[] {
  return [...results].filter(([, checks]) => checks.some((c) => c.status === "FAILURE")).map(([name]) => name).sort();
}

function describeFailures(results: Map<string, Check[]>, names: string[]): string {
  return names
    .map((name) => `${name}: ${(results.get(name) ?? []).filter((c) => c.status === "FAILURE").map((c) => `${c.id} ${c.errorMessage ?? ""}`).join("; ")}`)
    .join("\n");
}

/** The list of scenarios of one side, as `conformance list` prints it. */
async function scenarios(side: "server" | "client", cli = CONFORMANCE, version?: string): Promise<string[]> {
  const out = await new Response(Bun.spawn([process.execPath, cli, "list"], { stdout: "pipe" }).stdout).text();
  const section = out.split(/\n\s*\n/).find((part) => part.toLowerCase().startsWith(`${side} scenarios`)) ?? "";
  return [...section.matchAll(/^\s+- (\S+) \[([^\]]*)\]/gm)].filter((m) => !version || m[2]!.split(",").includes(version)).map((m) => m[1]!);
}

test(
  "server scenarios against the memory daemon: exactly the expected ones fail",
  async () => {
    requireBinary();
    const sandbox = new Sandbox();
    let forwarder: ReturnType<typeof Bun.serve> | undefined;
    try {
      // A session starts the daemon; the daemon's port and token come from its lock file and MSM_HOME.
      const session = await openSession(sandbox, sandbox.project("conformance"));
      await session.close();
      const lock = sandbox.lock("memory")!;
      const token = sandbox.token();
      const project = sandbox.project("conformance");
      // The suite cannot send msm's bearer token or project header: a loopback relay adds them, and nothing else.
      forwarder = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        idleTimeout: 0,
        fetch: async (request) => {
          const headers = new Headers(request.headers);
          headers.set("authorization", `Bearer ${token}`);
          headers.set("mcp-project-path", project);
          // The relay's own address becomes the daemon's (its Host check wants its own port); any other Host (the
          // suite's DNS-rebinding scenario) goes through as sent, for the daemon to refuse.
          const host = request.headers.get("host") ?? "";
          const own = [`127.0.0.1:${forwarder!.port}`, `localhost:${forwarder!.port}`];
          if (own.includes(host)) headers.set("host", host.replace(/:\d+$/, `:${lock.port}`));
          const target = `http://127.0.0.1:${lock.port}${new URL(request.url).pathname}`;
          const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
          const response = await fetch(target, { method: request.method, headers, body, redirect: "manual", timeout: false } as RequestInit);
          return new Response(response.body, { status: response.status, headers: response.headers });
        },
      });
      const url = `http://127.0.0.1:${forwarder.port}/mcp`;
      const results = await conformance(sandbox, ["server", "--url", url], join(sandbox.root, "server-results"));
      // The default ("active") suite leaves out the pending scenarios; every other one must have run.
      expect(results.size).toBeGreaterThanOrEqual((await scenarios("server")).length - 4);
      const failed = failing(results);
      const expected = expectedFailures().server.sort();
      if (JSON.stringify(failed) !== JSON.stringify(expected)) console.error(describeFailures(results, failed.filter((n) => !expected.includes(n))));
      expect(failed).toEqual(expected);
    } finally {
      forwarder?.stop(true);
      await sandbox.cleanup();
    }
  },
  WHOLE_SUITE_MS,
);

test(
  "client scenarios through msm proxy: exactly the expected ones fail; sse-retry and the OAuth flows pass",
  async () => {
    requireBinary();
    const sandbox = new Sandbox();
    try {
      const all = await scenarios("client");
      const results = new Map<string, Check[]>();
      for (const scenario of all) {
        const command = `${process.execPath} ${ADAPTER}`;
        const out = join(sandbox.root, "client-results", scenario.replace(/\//g, "_"));
        const one = await conformance(sandbox, ["client", "--command", command, "--scenario", scenario, "--timeout", "30000"], out);
        results.set(scenario, [...one.values()][0]!);
      }
      const failed = failing(results);
      const expected = expectedFailures().client.sort();
      if (JSON.stringify(failed) !== JSON.stringify(expected)) console.error(describeFailures(results, failed.filter((n) => !expected.includes(n))));
      expect(failed).toEqual(expected);
      expect(failed).not.toContain("sse-retry");
    } finally {
      await sandbox.cleanup();
    }
  },
  WHOLE_SUITE_MS,
);

test(
  "2026-07-28 client scenarios through msm proxy --url fail exactly as they do with no msm in between",
  async () => {
    requireBinary();
    const sandbox = new Sandbox();
    try {
      // The revision's own scenarios (auth ones are covered above, through the relay).
      const all = (await scenarios("client", CONFORMANCE_NEXT, "2026-07-28")).filter((s) => !s.startsWith("auth/"));
      expect(all).toContain("http-standard-headers");
      const run = async (direct: boolean) => {
        const results = new Map<string, Check[]>();
        for (const scenario of all) {
          const command = `${process.execPath} ${ADAPTER} --modern${direct ? " --direct" : ""}`;
          const out = join(sandbox.root, direct ? "direct" : "msm", scenario.replace(/\//g, "_"));
          const args = ["client", "--command", command, "--scenario", scenario, "--spec-version", "2026-07-28", "--timeout", "30000"];
          results.set(scenario, [...(await conformance(sandbox, args, out, CONFORMANCE_NEXT)).values()][0]!);
        }
        return results;
      };
      const throughMsm = await run(false);
      const direct = await run(true);
      const failed = failing(throughMsm);
      if (JSON.stringify(failed) !== JSON.stringify(failing(direct))) console.error(describeFailures(throughMsm, failed));
      expect(failed).toEqual(failing(direct));
      expect(failed).toEqual(expectedFailures().modern.sort());
    } finally {
      await sandbox.cleanup();
    }
  },
  WHOLE_SUITE_MS,
);
