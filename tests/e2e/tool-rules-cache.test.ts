// Tool rules with the discovery cache (issue 24): the cache keeps the server's answers as they were given (all 40
// tools), and a session answered from it — no server running — sees only the 5 the rules allow, on every page; a
// call to a hidden tool is refused without starting anything; a call to a shown one starts the server.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { msm, openSession, processesMatching, Sandbox, waitFor } from "../helpers/sandbox.ts";

const FIXTURE = resolve(import.meta.dir, "../fixtures/many-tools-server.ts");
const RULES = {
  allow: ["channels_list", "messages_*", "users_info"],
  deny: ["messages_delete", "messages_update", "messages_sched*", "messages_ephemeral", "messages_permalink", "messages_replies"],
};
const WANTED = ["channels_list", "messages_history", "messages_post", "messages_search", "users_info"];
// The proxy's discovery session (proxy/discovery.ts) fills and serves the cache; before it is in the tree there is
// nothing to test.

async function toolNames(client: Client): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = (await client.request({ method: "tools/list", params: cursor ? { cursor } : {} } as never, z.any())) as {
      tools: { name: string }[];
      nextCursor?: string;
    };
    pages++;
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return { names, pages };
}

test("a session answered from the cache sees the 5 allowed tools; the cache keeps all 40; a hidden call starts nothing", async () => {
  await using sandbox = new Sandbox({ targets: { workspace: { command: process.execPath, args: [FIXTURE], tools: RULES } } });
  const project = sandbox.project("app");
  const live = await openSession(sandbox, project, { target: "workspace" });
  expect((await toolNames(live.client)).names.sort()).toEqual(WANTED);
  await live.close();
  const dir = join(sandbox.msmHome, "cache", "workspace");
  await waitFor(() => existsSync(dir) && readdirSync(dir).length > 0, 10_000, "a cache entry");
  const entry = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), "utf8"));
  const cachedNames = Object.values(entry.lists["tools/list"] as Record<string, { tools: { name: string }[] }>).flatMap((p) => p.tools.map((t) => t.name));
  expect(cachedNames).toHaveLength(40);
  expect((await msm(sandbox, ["stop", "workspace"])).code).toBe(0);
  await waitFor(() => processesMatching(sandbox, FIXTURE).length === 0, 15_000, "the server gone");

  const cached = await openSession(sandbox, project, { target: "workspace" });
  const listed = await toolNames(cached.client);
  expect(listed.pages).toBe(5);
  expect(listed.names.sort()).toEqual(WANTED);
  const refused = await cached.client.callTool({ name: "admin_users_deactivate", arguments: { user: "U1" } }).catch((e) => e);
  expect(refused).toBeInstanceOf(McpError);
  expect((refused as McpError).message).toContain('the tool "admin_users_deactivate" of target "workspace" is hidden');
  expect(processesMatching(sandbox, FIXTURE)).toEqual([]);
  expect(existsSync(join(sandbox.msmHome, "workspace.lock"))).toBe(false);
  // msm status --tools reads the same entry: 5 shown of 40.
  const status = JSON.parse((await msm(sandbox, ["status", "workspace", "--tools", "--json"])).stdout);
  expect(status.targets[0]).toMatchObject({ listed: true, shown: { tools: 5 }, hidden: { tools: 35 } });
  // A shown tool's call starts the server and is answered.
  expect((await cached.client.callTool({ name: "messages_post", arguments: { channel: "#a", text: "x" } })).content).toEqual([
    { type: "text", text: "called messages_post" },
  ]);
  await cached.close();
}, 90_000);
