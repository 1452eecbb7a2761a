// The project path decides where the daemon writes. A forged `Mcp-Project-Path` (sent with a valid token, as any
// local program that read it could) or a `.claude` planted above the working directory must not capture memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, call, openSession } from "../../helpers/sandbox.ts";
import { OTHER_UID, chownTo, listTree } from "../../helpers/attacks.ts";

let sandbox: Sandbox;
let endpoint: string;

beforeAll(async () => {
  sandbox = new Sandbox();
  const session = await openSession(sandbox, sandbox.project("warm-up"));
  await session.close();
  endpoint = `http://127.0.0.1:${sandbox.lock("memory")!.port}/mcp`;
});
afterAll(async () => {
  await sandbox.cleanup();
});

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: Record<string, unknown> };

/** The last JSON-RPC message of an answer that may be JSON or an SSE stream. */
async function rpcAnswer(response: Response): Promise<{ result?: unknown; error?: unknown }> {
  const text = await response.text();
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) return JSON.parse(text);
  const data = text
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)));
  return data.at(-1);
}

/** One tool call over raw HTTP with the token and whatever project header the caller forges. */
async function callWithProject(project: string | undefined, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${sandbox.token()}`,
  };
  if (project !== undefined) headers["mcp-project-path"] = project;
  const init = await fetch(endpoint, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "forger", version: "1" } },
    }),
  });
  expect(init.status).toBe(200);
  await rpcAnswer(init);
  const session = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-06-18" };
  await (await fetch(endpoint, { method: "POST", headers: session, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
  const answer = await rpcAnswer(
    await fetch(endpoint, {
      method: "POST",
      headers: session,
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }),
    }),
  );
  await fetch(endpoint, { method: "DELETE", headers: session }).catch(() => {});
  return answer.result as ToolResult;
}

async function refused(project: string, problem: string): Promise<void> {
  const result = await callWithProject(project, "create_entities", { entities: [{ name: "x", entityType: "t", observations: [] }] });
  expect(result.isError).toBe(true);
  expect(result.content[0]!.text).toContain(`The project path ${project} ${problem}`);
}

describe("a forged Mcp-Project-Path is refused and creates nothing", () => {
  test("/ and system trees", async () => {
    const hadRootClaude = existsSync("/.claude");
    await refused("/", "is the root or a system folder");
    expect(existsSync("/.claude")).toBe(hadRootClaude);
    for (const dir of ["/etc", "/usr/lib", "/var/tmp", "/proc/self"]) {
      const had = existsSync(join(dir, ".claude"));
      await refused(dir, dir === "/proc/self" ? "is not canonical" : "is the root or a system folder");
      expect(existsSync(join(dir, ".claude"))).toBe(had);
    }
  }, 30_000);

  test("a relative path (it used to resolve against MSM_HOME, the daemon's working directory)", async () => {
    const before = listTree(sandbox.msmHome).filter((f) => !f.startsWith("logs"));
    await refused("proj", "is not an absolute path");
    await refused("./.claude/..", "is not an absolute path");
    expect(listTree(sandbox.msmHome).filter((f) => !f.startsWith("logs"))).toEqual(before);
  }, 30_000);

  test("a non-canonical path: a symlink to the project, or .. in it", async () => {
    const project = sandbox.project("real");
    const link = join(sandbox.root, "link-to-real");
    symlinkSync(project, link);
    await refused(link, `is not canonical (it resolves to ${project})`);
    await refused(`${project}/../real`, `is not canonical (it resolves to ${project})`);
    expect(existsSync(join(project, ".claude"))).toBe(false);
  }, 30_000);

  test("a folder owned by another user, one writable by everyone, one that does not exist", async () => {
    const theirs = sandbox.project("theirs");
    chownTo(theirs, OTHER_UID, true);
    await refused(theirs, `is owned by uid ${OTHER_UID}, not by you`);
    expect(listTree(theirs)).toEqual([".git"]);

    const open = sandbox.project("open-to-all");
    chmodSync(open, 0o777);
    await refused(open, "is writable by every user (mode 0777)");
    expect(listTree(open)).toEqual([".git"]);

    const missing = join(sandbox.root, "projects", "not-there");
    await refused(missing, "does not exist");
    expect(existsSync(missing)).toBe(false);
  }, 30_000);

  test("the proxy refuses a relative --project at start, with the fix", () => {
    const result = Bun.spawnSync([MSM, "proxy", "--target", "memory", "--project", "some/dir"], { env: sandbox.env, cwd: sandbox.root, stdin: "ignore" });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout.toString()).toBe("");
    expect(result.stderr.toString()).toContain('--project "some/dir" is not an absolute path');
  }, 30_000);
});

describe("a .claude planted above the working directory does not capture the session", () => {
  // /tmp-like shared folders: sticky and writable by everyone; another user put a .claude there first.
  for (const [label, owner] of [
    ["owned by another user", OTHER_UID],
    ["owned by you but writable by everyone (like /tmp for root)", process.getuid!()],
  ] as const) {
    test(`shared folder ${label}`, async () => {
      const shared = join(sandbox.root, `shared-${owner}`);
      mkdirSync(join(shared, ".claude"), { recursive: true });
      chmodSync(join(shared, ".claude"), 0o777);
      chownTo(join(shared, ".claude"), OTHER_UID);
      chmodSync(shared, 0o1777);
      chownTo(shared, owner);
      const work = join(shared, "work", "notes");
      mkdirSync(work, { recursive: true });

      const session = await openSession(sandbox, work);
      try {
        await call(session.client, "create_entities", { entities: [{ name: "private", entityType: "t", observations: ["only mine"] }] });
        const stats = await call<{ database: string; scope: string }>(session.client, "memory_stats");
        expect(stats).toMatchObject({ database: join(work, ".claude", "memory.db"), scope: "project" });
        expect(listTree(join(shared, ".claude"))).toEqual([]);
      } finally {
        await session.close();
      }
    }, 30_000);
  }
});
