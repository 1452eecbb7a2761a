// Tool rules (issue 24): a 40-tool server cut to the 5 tools a user wants, for every editor session at once, by
// `tools: { allow, deny }` in config.json — enforced by `msm proxy` for a hosted stdio target, an external HTTP
// target and a remote URL target alike; a project's .claude/msm.json can hide more and never show more.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { type Session, openSession, Sandbox, waitFor } from "../helpers/sandbox.ts";
import { TOOLS } from "../fixtures/many-tools-server.ts";

const SLOW = 120_000;
const FIXTURE = resolve(import.meta.dir, "../fixtures/many-tools-server.ts");

/** The five tools the user wants out of forty. */
const WANTED = ["channels_list", "messages_history", "messages_post", "messages_search", "users_info"];
const RULES = {
  tools: {
    allow: ["channels_list", "messages_*", "users_info"],
    deny: ["messages_delete", "messages_update", "messages_sched*", "messages_ephemeral", "messages_permalink", "messages_replies"],
  },
  prompts: { deny: ["admin_*"] },
  resources: { deny: ["secret://*"] },
};

/** Every page of a list, as an editor that follows `nextCursor` sees it. */
async function listAll(client: Client, method: "tools/list" | "prompts/list" | "resources/list"): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const result = (await client.request({ method, params: cursor ? { cursor } : {} } as never, z.any())) as Record<string, unknown>;
    pages++;
    const field = method === "tools/list" ? "tools" : method === "prompts/list" ? "prompts" : "resources";
    for (const item of result[field] as { name?: string; uri?: string }[]) names.push(item.name ?? item.uri!);
    cursor = result.nextCursor as string | undefined;
  } while (cursor);
  return { names, pages };
}

async function refusal(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof McpError) return error;
    throw error;
  }
  throw new Error("expected msm to refuse the request");
}

/** What every kind of target must show and refuse under RULES. */
async function checkRules(session: Session, target: string, configFile: string): Promise<void> {
  const { client } = session;
  const tools = await listAll(client, "tools/list");
  expect(tools.pages).toBe(5); // 40 tools, 8 a page: every page was filtered, none lost
  expect(tools.names.sort()).toEqual(WANTED);
  const called = await client.callTool({ name: "messages_post", arguments: { channel: "#general", text: "hi" } });
  expect(called.content).toEqual([{ type: "text", text: "called messages_post" }]);

  const denied = await refusal(client.callTool({ name: "messages_delete", arguments: { channel: "#general", ts: "1.2" } }));
  expect(denied.code).toBe(-32602);
  expect(denied.message).toContain(
    `the tool "messages_delete" of target "${target}" is hidden by the pattern "messages_delete" in "deny" of targets.${target}.tools in ${configFile}`,
  );
  expect(denied.data).toEqual({ hiddenBy: { file: configFile, key: `targets.${target}.tools.deny`, pattern: "messages_delete" }, name: "messages_delete" });
  const unlisted = await refusal(client.callTool({ name: "admin_users_deactivate", arguments: { user: "U1" } }));
  expect(unlisted.message).toContain(
    `it matches no pattern in "allow" ("channels_list", "messages_*", "users_info") of targets.${target}.tools in ${configFile}`,
  );

  const prompts = await listAll(client, "prompts/list");
  expect(prompts.pages).toBe(2);
  expect(prompts.names).toEqual(["summarize_channel", "draft_announcement", "weekly_digest", "incident_update", "standup_notes"]);
  expect((await refusal(client.getPrompt({ name: "admin_audit" }))).message).toContain('the prompt "admin_audit"');
  expect((await client.getPrompt({ name: "weekly_digest" })).messages).toHaveLength(1);

  const resources = await listAll(client, "resources/list");
  expect(resources.names).toEqual(["workspace://channels", "workspace://users", "workspace://emoji", "workspace://files"]);
  expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(["workspace://channels/{id}"]);
  const secret = await refusal(client.readResource({ uri: "secret://tokens" }));
  expect(secret.code).toBe(-32002);
  expect(secret.message).toContain('the resource "secret://tokens"');
  expect((await client.readResource({ uri: "workspace://users" })).contents).toHaveLength(1);
}

async function startHttpServer(sandbox: Sandbox): Promise<string> {
  const child = Bun.spawn([process.execPath, FIXTURE, "http", "0"], { env: sandbox.env, stdout: "pipe", stderr: "inherit" });
  sandbox.track(child.pid);
  let output = "";
  void (async () => {
    for await (const chunk of child.stdout) output += new TextDecoder().decode(chunk);
  })();
  const port = await waitFor(() => /listening on port (\d+)/.exec(output)?.[1], 20_000, "the workspace server to listen");
  return `http://127.0.0.1:${port}/mcp`;
}

function writeProjectFile(project: string, value: unknown): string {
  mkdirSync(join(project, ".claude"), { recursive: true, mode: 0o700 });
  const file = join(project, ".claude", "msm.json");
  writeFileSync(file, JSON.stringify(value), { mode: 0o600 });
  return file;
}

describe("tool rules cut a 40-tool server to 5", () => {
  test(
    "hosted stdio target: lists, pages, calls, prompts and resources follow the rules; list_changed passes through",
    async () => {
      expect(TOOLS).toHaveLength(40);
      await using sandbox = new Sandbox({
        targets: {
          workspace: { command: process.execPath, args: [FIXTURE], ...RULES },
          // The same server with only its admin tools hidden: list_changed must still reach the editor.
          everyday: { command: process.execPath, args: [FIXTURE], tools: { deny: ["admin_*"] } },
        },
      });
      const config = join(sandbox.msmHome, "config.json");
      const session = await openSession(sandbox, sandbox.project("app"), { target: "workspace" });
      await checkRules(session, "workspace", config);

      const everyday = await openSession(sandbox, sandbox.project("app"), { target: "everyday" });
      let changed = 0;
      everyday.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
      expect((await listAll(everyday.client, "tools/list")).names).toHaveLength(38);
      await everyday.client.callTool({ name: "announce_change", arguments: {} });
      await waitFor(() => changed === 1, 10_000, "notifications/tools/list_changed");
      expect((await listAll(everyday.client, "tools/list")).names).not.toContain("admin_users_deactivate");
      await everyday.close();
      await session.close();
    },
    SLOW,
  );

  test(
    "external HTTP target (a server msm starts that serves HTTP itself)",
    async () => {
      await using sandbox = new Sandbox({
        targets: { workspace: { command: process.execPath, args: [FIXTURE, "http", "{port}"], transport: "streamable-http", port: 0, ...RULES } },
      });
      const session = await openSession(sandbox, sandbox.project("app"), { target: "workspace" });
      await checkRules(session, "workspace", join(sandbox.msmHome, "config.json"));
      await session.close();
    },
    SLOW,
  );

  test(
    "remote URL target (through msm's relay)",
    async () => {
      await using sandbox = new Sandbox({});
      const url = await startHttpServer(sandbox);
      sandbox.writeConfig({ targets: { workspace: { url, ...RULES } } });
      const session = await openSession(sandbox, sandbox.project("app"), { target: "workspace" });
      await checkRules(session, "workspace", join(sandbox.msmHome, "config.json"));
      await session.close();
    },
    SLOW,
  );
});

describe("a project's .claude/msm.json can only hide more", () => {
  test(
    "a project that tries to widen gets the user's 5; one that narrows gets fewer, and the refusal names its file",
    async () => {
      await using sandbox = new Sandbox({ targets: { workspace: { command: process.execPath, args: [FIXTURE], ...RULES } } });
      const wide = sandbox.project("wide");
      writeProjectFile(wide, {
        projectId: "wide",
        targets: { workspace: { tools: { allow: ["*"] }, prompts: { allow: ["*"] }, resources: { allow: ["*"] } } },
      });
      const narrow = sandbox.project("narrow");
      const narrowFile = writeProjectFile(narrow, { targets: { workspace: { tools: { allow: ["messages_*", "users_*"], deny: ["messages_post"] } } } });

      const widened = await openSession(sandbox, wide, { target: "workspace" });
      await checkRules(widened, "workspace", join(sandbox.msmHome, "config.json"));

      const narrowed = await openSession(sandbox, narrow, { target: "workspace" });
      expect((await listAll(narrowed.client, "tools/list")).names.sort()).toEqual(["messages_history", "messages_search", "users_info"]);
      const post = await refusal(narrowed.client.callTool({ name: "messages_post", arguments: { channel: "#a", text: "x" } }));
      expect(post.message).toContain(`is hidden by the pattern "messages_post" in "deny" of targets.workspace.tools in ${narrowFile}`);
      const channels = await refusal(narrowed.client.callTool({ name: "channels_list", arguments: {} }));
      expect(channels.message).toContain(`matches no pattern in "allow" ("messages_*", "users_*") of targets.workspace.tools in ${narrowFile}`);
      // The user's own rules still apply in that project.
      expect((await refusal(narrowed.client.callTool({ name: "messages_delete", arguments: {} }))).message).toContain(join(sandbox.msmHome, "config.json"));
      await widened.close();
      await narrowed.close();
    },
    SLOW,
  );
});

describe("rules that cannot be read hide everything, and say so", () => {
  test(
    "a rule made invalid while the daemon runs, and a project file that is not JSON: lists and calls are refused with the reason",
    async () => {
      await using sandbox = new Sandbox({ targets: { workspace: { command: process.execPath, args: [FIXTURE], ...RULES } } });
      const first = await openSession(sandbox, sandbox.project("app"), { target: "workspace" });
      expect((await listAll(first.client, "tools/list")).names).toHaveLength(5);
      // The next session takes the fast path (the daemon's lock), which never validates config.json with zod.
      sandbox.writeConfig({ targets: { workspace: { command: process.execPath, args: [FIXTURE], tools: { allow: "messages_*" } } } });
      const second = await openSession(sandbox, sandbox.project("app"), { target: "workspace" });
      const list = await refusal(listAll(second.client, "tools/list"));
      expect(list.message).toContain('the tool rules of target "workspace" are invalid (targets.workspace.tools.allow: expected array');
      expect(list.message).toContain("no tool of it is shown until they are fixed");
      expect((await refusal(second.client.callTool({ name: "messages_post", arguments: {} }))).message).toContain("are invalid");
      // Prompts had no rules this time: untouched.
      expect((await listAll(second.client, "prompts/list")).names).toHaveLength(6);
      expect(second.stderr()).toContain('the tool rules of target "workspace" are invalid');

      sandbox.writeConfig({ targets: { workspace: { command: process.execPath, args: [FIXTURE], ...RULES } } });
      const broken = sandbox.project("broken");
      mkdirSync(join(broken, ".claude"), { mode: 0o700 });
      writeFileSync(join(broken, ".claude", "msm.json"), "{ not json", { mode: 0o600 });
      const third = await openSession(sandbox, broken, { target: "workspace" });
      const refused = await refusal(listAll(third.client, "tools/list"));
      expect(refused.message).toContain(`${join(broken, ".claude", "msm.json")} is not valid JSON`);
      for (const s of [first, second, third]) await s.close();
    },
    SLOW,
  );
});
