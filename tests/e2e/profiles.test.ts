// Profiles (issue 25, docs/profiles.md): one editor session, `msm proxy --profile NAME`, in front of several targets,
// each still its own shared daemon. Every routed message must reach its own target and come back to the session:
// calls, prompts, resources and completions by name, progress and cancellation by request, and the targets' own
// requests (sampling, elicitation, roots, ping) to the editor and back under ids of the profile's. One target that
// fails or is slow must not hold the others up. The fixture servers (tests/fixtures/profile-server.ts) name
// themselves in every answer, so a message that reached the wrong target shows.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { EVERYTHING, FILESYSTEM, NODE, textOf } from "../helpers/hosted.ts";
import { msm, openSession, Sandbox, waitFor } from "../helpers/sandbox.ts";
import { CONFORMANCE } from "./transparency/servers.ts";

const SLOW = 120_000;
const FIXTURE = resolve(import.meta.dir, "../fixtures/profile-server.ts");

/** A copy of the fixture named `name`, logging what it hears to `log`. */
function fixture(name: string, log: string, env: Record<string, string> = {}): object {
  return { command: process.execPath, args: [FIXTURE], env: { PROFILE_SERVER_NAME: name, PROFILE_SERVER_LOG: log, ...env } };
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : []);
const called = async (client: Client, name: string, args: Record<string, unknown> = {}) => textOf(await client.callTool({ name, arguments: args }));

describe("profiles", () => {
  test(
    "three real servers in one session: each call, prompt, resource and completion reaches its own target",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      writeFileSync(join(project, "notes.txt"), "from the filesystem\n");
      sandbox.writeConfig({
        targets: {
          everything: { command: NODE, args: [EVERYTHING, "stdio"] },
          fs: { command: NODE, args: [FILESYSTEM, "{project}"] },
          conformance: { command: process.execPath, args: [CONFORMANCE] },
        },
        profiles: { dev: { targets: ["everything", "fs", "conformance"] } },
      });
      const { client } = await openSession(sandbox, project, { profile: "dev" });
      expect(client.getServerVersion()?.name).toBe("dev");
      expect(client.getInstructions()).toStartWith("everything: ");
      expect(Object.keys(client.getServerCapabilities() ?? {})).toEqual(expect.arrayContaining(["tools", "prompts", "resources", "completions", "logging"]));

      const tools = await names(client);
      expect(tools).toEqual(expect.arrayContaining(["everything__echo", "fs__read_text_file", "conformance__test_simple_text"]));
      expect(tools.every((name) => /^[a-zA-Z0-9_-]{1,64}$/.test(name))).toBe(true);
      expect(tools.filter((t) => t.startsWith("fs__"))).toHaveLength(14);

      expect(await called(client, "everything__echo", { message: "hi" })).toBe("Echo: hi");
      expect(await called(client, "fs__read_text_file", { path: join(project, "notes.txt") })).toBe("from the filesystem\n");
      expect(await called(client, "conformance__test_simple_text")).toContain("This is a simple text response");
      // A tool the server does not have reaches that server, which answers as it would directly.
      const missing = await client.callTool({ name: "everything__no_such_tool", arguments: {} }).catch((error: Error) => error.message);
      expect(JSON.stringify(missing)).toContain("no_such_tool");
      // A name without a target's prefix is msm's to refuse.
      await expect(client.callTool({ name: "nobody", arguments: {} })).rejects.toThrow('profile "dev" has no tool "nobody"');

      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      expect(prompts).toEqual(expect.arrayContaining(["everything__simple-prompt", "conformance__test_simple_prompt"]));
      expect(JSON.stringify((await client.getPrompt({ name: "conformance__test_simple_prompt" })).messages)).toContain("This is a simple prompt for testing.");
      expect((await client.getPrompt({ name: "everything__args-prompt", arguments: { city: "Paris" } })).messages.length).toBeGreaterThan(0);
      const completion = await client.complete({
        ref: { type: "ref/prompt", name: "everything__completable-prompt" },
        argument: { name: "department", value: "E" },
      });
      expect(completion.completion.values).toContain("Engineering");

      const resources = (await client.listResources()).resources.map((r) => r.uri);
      expect(resources).toEqual(expect.arrayContaining(["demo://resource/static/document/architecture.md", "test://static-text"]));
      expect(JSON.stringify(await client.readResource({ uri: "test://static-text" }))).toContain("test://static-text");
      expect(JSON.stringify(await client.readResource({ uri: "demo://resource/static/document/architecture.md" }))).toContain("Architecture");
      // A URI from a template, and one a tool result named: read from the target that offered it.
      expect(JSON.stringify(await client.readResource({ uri: "test://template/42/data" }))).toContain("42");
      expect(JSON.stringify(await client.readResource({ uri: "demo://resource/dynamic/text/3" }))).toContain("demo://resource/dynamic/text/3");
      await client.subscribeResource({ uri: "test://watched-resource" });
      await client.unsubscribeResource({ uri: "test://watched-resource" });
      await client.setLoggingLevel("info");
      await client.ping();
    },
    SLOW,
  );

  test(
    "progress and cancellation follow their request: the cancelled wait stops at its own target, the other finishes",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      sandbox.writeConfig({ targets: { alpha: fixture("alpha", log), beta: fixture("beta", log) }, profiles: { dev: { targets: ["alpha", "beta"] } } });
      const { client } = await openSession(sandbox, project, { profile: "dev" });
      const progress = { alpha: 0, beta: 0 };
      const a = client.callTool({ name: "alpha__wait", arguments: { ms: 600, note: "A" } }, undefined, { onprogress: () => void progress.alpha++ });
      const b = client.callTool({ name: "beta__wait", arguments: { ms: 300, note: "B" } }, undefined, { onprogress: () => void progress.beta++ });
      expect(textOf(await a)).toBe("alpha waited");
      expect(textOf(await b)).toBe("beta waited");
      expect(progress.alpha).toBeGreaterThanOrEqual(10);
      expect(progress.beta).toBeGreaterThanOrEqual(5);
      expect(progress.beta).toBeLessThan(10);

      // Cancel beta's long wait while alpha's runs: beta hears it for its own call, alpha hears nothing.
      const controller = new AbortController();
      let started = false;
      const long = client
        .callTool({ name: "beta__wait", arguments: { ms: 20_000, note: "long" } }, undefined, {
          signal: controller.signal,
          onprogress: () => void (started = true),
        })
        .catch((error: Error) => error.message);
      const other = client.callTool({ name: "alpha__wait", arguments: { ms: 800, note: "kept" } });
      await waitFor(() => started, 15_000, "the long wait's first progress");
      controller.abort("the user pressed Esc");
      expect(String(await long)).toContain("Esc");
      expect(textOf(await other)).toBe("alpha waited");
      await waitFor(() => lines(log).includes("beta cancelled long"), 10_000, "beta to hear the cancellation");
      expect(lines(log).filter((line) => line.includes("cancelled"))).toEqual(["beta cancelled long"]);
    },
    SLOW,
  );

  test(
    "a target's sampling, elicitation, roots and ping reach the editor, and each answer goes back to that target",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      sandbox.writeConfig({
        targets: { alpha: fixture("alpha", log), beta: fixture("beta", log), gamma: fixture("gamma", log) },
        profiles: { dev: { targets: ["alpha", "beta", "gamma"] } },
      });
      const seenIds: unknown[] = [];
      let rootsAsked = 0;
      const { client } = await openSession(sandbox, project, {
        profile: "dev",
        capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
        setup: (c) => {
          // The editor answers slowly and out of order: a sampled answer names what it was asked.
          c.setRequestHandler(CreateMessageRequestSchema, async (request, extra) => {
            seenIds.push(extra.requestId);
            const asked = (request.params.messages[0]!.content as { text: string }).text;
            await Bun.sleep(asked.startsWith("alpha") ? 300 : 50);
            return { model: "m", role: "assistant", content: { type: "text", text: `answer to ${asked}` } };
          });
          c.setRequestHandler(ElicitRequestSchema, async (request) => ({ action: "accept", content: { reply: `reply to ${request.params.message}` } }));
          c.setRequestHandler(ListRootsRequestSchema, async () => {
            rootsAsked++;
            return { roots: [{ uri: `file://${project}`, name: "app" }] };
          });
        },
      });
      const asks = await Promise.all(["alpha", "beta", "gamma"].map((t) => called(client, `${t}__ask`, { text: `question of ${t}` })));
      expect(asks).toEqual([
        "alpha got: answer to alpha: question of alpha",
        "beta got: answer to beta: question of beta",
        "gamma got: answer to gamma: question of gamma",
      ]);
      // Every target numbers its requests from 1 (alpha-1, beta-1…): the editor saw three different ids.
      expect(new Set(seenIds.map(String)).size).toBe(3);
      const elicited = await Promise.all(["alpha", "beta"].map((t) => called(client, `${t}__elicit`, { text: "who?" })));
      expect(elicited).toEqual(['alpha got: {"reply":"reply to alpha: who?"}', 'beta got: {"reply":"reply to beta: who?"}']);
      expect(await called(client, "beta__roots")).toBe(`beta roots: file://${project}`);
      expect(await Promise.all(["alpha", "gamma"].map((t) => called(client, `${t}__ping_client`)))).toEqual(["alpha pinged", "gamma pinged"]);
      expect(rootsAsked).toBe(1);

      // What the editor says to everyone reaches every target once.
      await client.sendRootsListChanged();
      await client.setLoggingLevel("warning");
      await waitFor(() => lines(log).filter((l) => l.endsWith("roots changed")).length === 3, 10_000, "every target to hear roots/list_changed");
      expect(lines(log).sort()).toEqual([
        "alpha level warning",
        "alpha roots changed",
        "beta level warning",
        "beta roots changed",
        "gamma level warning",
        "gamma roots changed",
      ]);
    },
    SLOW,
  );

  test(
    "a killed target: its tools vanish with list_changed, the others keep working, and they come back with list_changed",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      const broken = join(sandbox.root, "beta-broken");
      sandbox.writeConfig({
        targets: { alpha: fixture("alpha", log), beta: fixture("beta", log, { PROFILE_SERVER_BREAK: broken }) },
        profiles: { dev: { targets: ["alpha", "beta"] } },
      });
      // Restarts come quickly, so the crash loop ends in `failed` within a second.
      const { client } = await openSession(sandbox, project, { profile: "dev", env: { MSM_BACKOFF_MS: "50,50,50,50,50" } });
      let changes = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
      expect(await names(client)).toHaveLength(12);
      const pid = Number(/pid (\d+)/.exec(await called(client, "beta__whoami"))![1]);

      writeFileSync(broken, "");
      process.kill(pid, "SIGKILL");
      const failed = await client.callTool({ name: "beta__whoami", arguments: {} }).then(
        (result) => JSON.stringify(result),
        (error: Error) => error.message,
      );
      expect(failed).toContain("beta");
      await waitFor(() => changes >= 1, 20_000, "tools/list_changed after beta failed");
      expect(await names(client)).toEqual(["alpha__ask", "alpha__elicit", "alpha__ping_client", "alpha__roots", "alpha__wait", "alpha__whoami"]);
      expect(await called(client, "alpha__whoami")).toStartWith("alpha pid");

      rmSync(broken);
      expect((await msm(sandbox, ["restart", "beta"])).code).toBe(0);
      await waitFor(() => changes >= 2, 45_000, "tools/list_changed after beta came back");
      expect(await names(client)).toHaveLength(12);
      expect(await called(client, "beta__whoami")).not.toContain(`pid ${pid}`);
    },
    SLOW,
  );

  test(
    "a slow target does not hold the session: lists answer without it, and its tools follow with list_changed",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      sandbox.writeConfig({
        targets: { alpha: fixture("alpha", log), slow: fixture("slow", log, { PROFILE_SERVER_LIST_DELAY_MS: "8000" }) },
        profiles: { dev: { targets: ["alpha", "slow"] } },
      });
      const { client } = await openSession(sandbox, project, { profile: "dev" });
      let changes = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
      const started = Date.now();
      const first = await names(client);
      expect(Date.now() - started).toBeLessThan(7_500);
      expect(first.every((name) => name.startsWith("alpha__"))).toBe(true);
      expect(await called(client, "alpha__whoami")).toStartWith("alpha pid");
      await waitFor(() => changes >= 1, 20_000, "tools/list_changed once the slow target answered");
      // Not waited for again: its list as it gave it, at once.
      const again = Date.now();
      expect(await names(client)).toHaveLength(12);
      expect(Date.now() - again).toBeLessThan(3_000);
      expect(await called(client, "slow__whoami")).toStartWith("slow pid");
    },
    SLOW,
  );

  test(
    "search mode: find_tools gives the right tools with their schemas, call_tool runs them; with a warm cache nothing starts before a call",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      sandbox.writeConfig({
        targets: { alpha: fixture("alpha", log), beta: fixture("beta", log) },
        profiles: { tools: { targets: ["alpha", "beta"], mode: "search", tools: { deny: ["*__elicit"] } } },
      });
      const first = await openSession(sandbox, project, { profile: "tools" });
      expect(await names(first.client)).toEqual(["call_tool", "find_tools"]);
      expect(first.client.getInstructions()).toContain("find_tools");
      const found = JSON.parse(await called(first.client, "find_tools", { query: "which server answers, and its process id", limit: 2 }));
      expect(found.tools.map((t: { name: string }) => t.name).sort()).toEqual(["alpha__whoami", "beta__whoami"]);
      expect(found.tools[0]).toEqual({
        name: expect.any(String),
        target: expect.any(String),
        description: expect.any(String),
        inputSchema: { type: "object", properties: {} },
      });
      expect(await called(first.client, "call_tool", { name: "beta__whoami" })).toStartWith("beta pid");
      // The profile's rules: a hidden tool is neither found nor called.
      const elicit = JSON.stringify(JSON.parse(await called(first.client, "find_tools", { query: "elicit an answer", limit: 20 })));
      expect(elicit).not.toContain("__elicit");
      await expect(first.client.callTool({ name: "call_tool", arguments: { name: "alpha__elicit" } })).rejects.toThrow(
        'is hidden by the pattern "*__elicit" in "deny" of profiles.tools.tools',
      );
      await first.close();
      expect((await msm(sandbox, ["stop", "--all"])).code).toBe(0);
      await waitFor(() => sandbox.lockPids().length === 0, 20_000, "every daemon stopped");

      // Answered from the discovery cache: no supervisor, no host, no server until call_tool.
      const second = await openSession(sandbox, project, { profile: "tools" });
      const again = JSON.parse(await called(second.client, "find_tools", { query: "wait a while reporting progress" }));
      expect(again.tools[0].name).toMatch(/__wait$/);
      expect(sandbox.lockPids()).toEqual([]);
      expect(await called(second.client, "call_tool", { name: "alpha__whoami" })).toStartWith("alpha pid");
      expect(sandbox.lock("alpha")).toBeDefined();
      expect(sandbox.lock("beta")).toBeUndefined();
    },
    SLOW,
  );

  test(
    "all mode: the profile's rules hide tools by the names it shows; an unknown profile is an error that says what to do",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("app");
      const log = join(sandbox.root, "heard.log");
      sandbox.writeConfig({
        targets: { alpha: fixture("alpha", log), beta: fixture("beta", log) },
        profiles: { dev: { targets: ["alpha", "beta"], separator: "-", tools: { allow: ["alpha-*", "beta-whoami"] } } },
      });
      const { client } = await openSession(sandbox, project, { profile: "dev" });
      const tools = await names(client);
      expect(tools).toContain("beta-whoami");
      expect(tools.filter((t) => t.startsWith("beta-"))).toEqual(["beta-whoami"]);
      await expect(client.callTool({ name: "beta-wait", arguments: {} })).rejects.toThrow("of profiles.dev.tools in");
      const unknown = await msm(sandbox, ["proxy", "--profile", "nope"]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('Unknown profile "nope". Profiles: dev.');
    },
    SLOW,
  );
});
