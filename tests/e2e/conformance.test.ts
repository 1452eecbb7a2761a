// The official conformance suite (@modelcontextprotocol/conformance) in CI: its server scenarios against the memory
// daemon and a hosted stdio server (tests/fixtures/conformance-stdio-server.ts behind `msm host`), its client scenarios through `msm proxy` (tests/conformance/client.ts drives the proxy over stdio, as an
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
const STDIO_SERVER = resolve(import.meta.dir, "../fixtures/conformance-stdio-server.ts");
/** Every scenario runs one after another (the suite's own --suite runs them all at once, which skews sse-retry's
 * timing checks on a busy 2-core machine); a few minutes in all. */
const WHOLE_SUITE_MS = 600_000;

/** The lists of the expected-failures file (a YAML subset: `key:` then `  - name` lines). */
function expectedFailures(): { server: string[]; hosted: string[]; client: string[]; modern: string[] } {
  const lists: Record<string, string[]> = { server: [], hosted: [], client: [], modern: [] };
  let current: string[] | undefined;
  for (const raw of readFileSync(EXPECTED, "utf8").split("\n")) {
    const line = raw.replace(/#.*/, "").trimEnd();
    const key = /^(\w+):$/.exec(line)?.[1];
    if (key) current = lists[key] ??= [];
    else if (/^\s+- /.test(line)) current?.push(line.replace(/^\s+- /, "").trim());
  }
  return { server: lists.server!, hosted: lists.hosted!, client: lists.client!, modern: lists.modern! };
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
  return [...results]
    .filter(([, checks]) => checks.some((c) => c.status === "FAILURE"))
    .map(([name]) => name)
    .sort();
}

function describeFailures(results: Map<string, Check[]>, names: string[]): string {
  return names
    .map(
      (name) =>
        `${name}: ${(results.get(name) ?? [])
          .filter((c) => c.status === "FAILURE")
          .map((c) => `${c.id} ${c.errorMessage ?? ""}`)
          .join("; ")}`,
    )
    .join("\n");
}

/** The list of scenarios of one side, as `conformance list` prints it. */
async function scenarios(side: "server" | "client", cli = CONFORMANCE, version?: string): Promise<string[]> {
  const out = await new Response(Bun.spawn([process.execPath, cli, "list"], { stdout: "pipe" }).stdout).text();
  const section = out.split(/\n\s*\n/).find((part) => part.toLowerCase().startsWith(`${side} scenarios`)) ?? "";
  return [...section.matchAll(/^\s+- (\S+) \[([^\]]*)\]/gm)].filter((m) => !version || m[2]!.split(",").includes(version)).map((m) => m[1]!);
}

/** The suite cannot send msm's bearer token or project header: a loopback relay in front of a daemon adds them, and
 * nothing else. Its own address becomes the daemon's (the daemon's Host check wants its own port); any other Host
 * (the suite's DNS-rebinding scenario) goes through as sent, for the daemon to refuse. */
function relay(daemonPort: number, token: string, project: string): ReturnType<typeof Bun.serve> {
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch: async (request) => {
      const headers = new Headers(request.headers);
      headers.set("authorization", `Bearer ${token}`);
      headers.set("mcp-project-path", project);
      const host = request.headers.get("host") ?? "";
      if ([`127.0.0.1:${server.port}`, `localhost:${server.port}`].includes(host)) headers.set("host", host.replace(/:\d+$/, `:${daemonPort}`));
      const target = `http://127.0.0.1:${daemonPort}${new URL(request.url).pathname}`;
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const response = await fetch(target, { method: request.method, headers, body, redirect: "manual", timeout: false } as RequestInit);
      return new Response(response.body, { status: response.status, headers: response.headers });
    },
  });
  return server;
}

/** Runs the server scenarios against one target's daemon (started by a first session) and checks that exactly the
 * expected ones fail. */
async function serverScenarios(sandbox: Sandbox, target: string, expected: string[]): Promise<void> {
  const project = sandbox.project("conformance");
  const session = await openSession(sandbox, project, { target });
  await session.close();
  const lock = sandbox.lock(target)!;
  const forwarder = relay(lock.port, sandbox.token(), project);
  try {
    const url = `http://127.0.0.1:${forwarder.port}/mcp`;
    // Every scenario, the pending ones too (JSON Schema 2020-12 keywords, SSE polling).
    const results = await conformance(sandbox, ["server", "--url", url, "--suite", "all"], join(sandbox.root, `server-results-${target}`));
    expect([...results.keys()].sort()).toEqual((await scenarios("server")).sort());
    const failed = failing(results);
    if (JSON.stringify(failed) !== JSON.stringify(expected.sort()))
      console.error(
        describeFailures(
          results,
          failed.filter((n) => !expected.includes(n)),
        ),
      );
    expect(failed).toEqual(expected.sort());
  } finally {
    forwarder.stop(true);
  }
}

test(
  "server scenarios against the memory daemon: exactly the expected ones fail",
  async () => {
    requireBinary();
    await using sandbox = new Sandbox();
    await serverScenarios(sandbox, "memory", expectedFailures().server);
  },
  WHOLE_SUITE_MS,
);

test(
  "server scenarios against a hosted stdio server (msm host and its child): exactly the expected ones fail",
  async () => {
    requireBinary();
    // A stdio server with every feature the scenarios call, shared through `msm host`: what fails here is what the
    // host changes on the way (ids, progress tokens, server-to-client requests, subscriptions, streams, Host check).
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, conformance: { command: process.execPath, args: [STDIO_SERVER] } } });
    await serverScenarios(sandbox, "conformance", expectedFailures().hosted);
  },
  WHOLE_SUITE_MS,
);

test(
  "client scenarios through msm proxy: exactly the expected ones fail; sse-retry and the OAuth flows pass",
  async () => {
    requireBinary();
    await using sandbox = new Sandbox();
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
    if (JSON.stringify(failed) !== JSON.stringify(expected))
      console.error(
        describeFailures(
          results,
          failed.filter((n) => !expected.includes(n)),
        ),
      );
    expect(failed).toEqual(expected);
    expect(failed).not.toContain("sse-retry");
  },
  WHOLE_SUITE_MS,
);

test(
  "2026-07-28 client scenarios through msm proxy --url fail exactly as they do with no msm in between",
  async () => {
    requireBinary();
    await using sandbox = new Sandbox();
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
    // The two runs share nothing (--url, their own output folders): side by side.
    const [throughMsm, direct] = await Promise.all([run(false), run(true)]);
    const failed = failing(throughMsm);
    if (JSON.stringify(failed) !== JSON.stringify(failing(direct))) console.error(describeFailures(throughMsm, failed));
    expect(failed).toEqual(failing(direct));
    expect(failed).toEqual(expectedFailures().modern.sort());
  },
  WHOLE_SUITE_MS,
);
