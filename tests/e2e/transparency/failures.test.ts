// The failures the transparency issue found, one test each: what a session gets directly is what it must get
// through msm. Each asserts the direct behaviour (measured here, directly, where it can be), never msm's current one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { EVERYTHING, FILESYSTEM, NODE, textOf } from "../../helpers/hosted.ts";
import { Sandbox, openSession, type Session } from "../../helpers/sandbox.ts";
import { RawStdio, answers, runSession, type Launch, type Transcript, type Version } from "../../helpers/transcript.ts";
import { BUN, FOLDERS_SETTLED, RAW, makeFolders, msmLaunch, type Folders } from "./servers.ts";

const SLOW = 90_000;
/** "Never silence": an answer or an error within this long (the host's own deadlines are shorter). */
const ANSWER_WITHIN_MS = 10_000;

/** The text of the first tool result in a transcript answering a tools/call of `tool`. */
function toolText(t: Transcript, tool: string): string {
  const call = t.entries.find((e) => e.dir === "sent" && e.message.method === "tools/call" && e.message.params?.name === tool);
  const answer = t.entries.find((e) => e.dir === "received" && e.message.method === undefined && e.message.id === call?.message.id);
  return answer ? textOf((answer.message.result ?? {}) as object) || JSON.stringify(answer.message.error) : "(no answer)";
}

describe("the transparency issue's failures", () => {
  let sandbox: Sandbox;
  let folders: Folders;
  const direct = (command: string, args: string[], cwd: string, env: Record<string, string> = {}): Launch => ({ command, args, env: { ...sandbox.env, ...env }, cwd, serverLog: () => "" });

  beforeAll(() => {
    sandbox = new Sandbox();
    folders = makeFolders(sandbox.root);
    const config = {
      targets: {
        memory: { port: 0 },
        everything: { command: NODE, args: [EVERYTHING, "stdio"] },
        fs: { command: NODE, args: [FILESYSTEM, folders.dir] },
        raw: { command: BUN, args: [RAW] },
      },
    };
    writeFileSync(join(sandbox.msmHome, "config.json"), JSON.stringify(config, null, 2));
  });
  afterAll(async () => {
    await sandbox.cleanup();
  });

  // Row: "asks for protocol version 2024-11-05, 2025-03-26 or 2025-06-18 (after another session opened the child
  // with 2025-11-25) … gets 2025-11-25; after a 2024-11-05 session opened the child, a 2025-11-25 session gets
  // 2024-11-05".
  const orders: [Version, Version][] = [
    ["2025-11-25", "2024-11-05"],
    ["2025-11-25", "2025-03-26"],
    ["2025-11-25", "2025-06-18"],
    ["2024-11-05", "2025-11-25"],
  ];
  for (const [first, second] of orders) {
    test(
      `protocol version: a ${second} session on a child a ${first} session opened gets ${second}, as directly`,
      async () => {
        const project = sandbox.project(`versions-${first}-${second}`);
        const ping = async (s: { request: (m: string) => Promise<unknown> }) => void (await s.request("ping"));
        const expected = await runSession("B", second, {}, direct(NODE, [EVERYTHING, "stdio"], project), ping);
        expect(expected.negotiated).toBe(second);
        let opened!: () => void;
        let release!: () => void;
        const isOpen = new Promise<void>((resolve) => (opened = resolve));
        const held = new Promise<void>((resolve) => (release = resolve));
        const a = runSession("A", first, {}, msmLaunch(sandbox, "everything", project), async (s) => {
          await s.request("ping");
          opened();
          await held;
        });
        await Promise.race([isOpen, a]);
        const b = await runSession("B", second, {}, msmLaunch(sandbox, "everything", project), ping);
        release();
        const firstSeen = await a;
        expect(firstSeen.negotiated).toBe(first);
        expect(b.negotiated).toBe(expected.negotiated!);
      },
      SLOW,
    );
  }

  // Rows: "server-filesystem configured with args: [DIR], client declares no roots → list_allowed_directories: DIR"
  // and "client declares roots and answers roots/list with R → R".
  test(
    "server-filesystem with args [DIR], a client without roots: list_allowed_directories is DIR and DIR is readable",
    async () => {
      const project = sandbox.project("fs-no-roots");
      const script = async (s: { serverSaid: (p: RegExp, ms?: number) => Promise<boolean>; request: (m: string, p?: Record<string, unknown>) => Promise<unknown> }) => {
        await s.serverSaid(FOLDERS_SETTLED, 5_000);
        await s.request("tools/call", { name: "list_allowed_directories", arguments: {} });
        await s.request("tools/call", { name: "read_text_file", arguments: { path: join(folders.dir, "a.txt") } });
      };
      const expected = await runSession("editor", "2025-11-25", {}, direct(NODE, [FILESYSTEM, folders.dir], project), script);
      expect(toolText(expected, "list_allowed_directories")).toBe(`Allowed directories:\n${folders.dir}`);
      const seen = await runSession("editor", "2025-11-25", {}, msmLaunch(sandbox, "fs", project), script);
      expect(toolText(seen, "list_allowed_directories")).toBe(toolText(expected, "list_allowed_directories"));
      expect(toolText(seen, "read_text_file")).toBe("configured folder\n");
    },
    SLOW,
  );

  test(
    "server-filesystem with args [DIR], a client with roots R: the client is asked, and list_allowed_directories is R",
    async () => {
      const project = sandbox.project("fs-roots");
      const script = async (s: { serverSaid: (p: RegExp, ms?: number) => Promise<boolean>; request: (m: string, p?: Record<string, unknown>) => Promise<unknown> }) => {
        await s.serverSaid(FOLDERS_SETTLED, 5_000);
        await s.request("tools/call", { name: "list_allowed_directories", arguments: {} });
      };
      const capabilities = { roots: [folders.roots] };
      const expected = await runSession("editor", "2025-11-25", capabilities, direct(NODE, [FILESYSTEM, folders.dir], project), script);
      expect(toolText(expected, "list_allowed_directories")).toBe(`Allowed directories:\n${folders.roots}`);
      const seen = await runSession("editor", "2025-11-25", capabilities, msmLaunch(sandbox, "fs", project), script);
      expect(seen.entries.some((e) => e.dir === "received" && e.message.method === "roots/list")).toBe(true);
      expect(toolText(seen, "list_allowed_directories")).toBe(`Allowed directories:\n${folders.roots}`);
    },
    SLOW,
  );

  // Row: "two sessions with sampling (or elicitation) on one hosted server-everything; A triggers sampling 20× while
  // B is busy → 11 of 20 of A's sampling requests (prompt included) went to B".
  test(
    "A triggers sampling 20× while B (which can sample too) is busy: every prompt reaches A, every answer is A's",
    async () => {
      const project = sandbox.project("busy");
      const reached: Record<string, string[]> = { A: [], B: [] };
      const open = (name: "A" | "B") =>
        openSession(sandbox, project, {
          target: "everything",
          clientName: name,
          capabilities: { sampling: {} },
          setup: (client: Client) =>
            client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
              reached[name]!.push(String((request.params.messages[0]?.content as { text?: string }).text));
              return answers.sampling(name);
            }),
        });
      const sessions: Session[] = [];
      try {
        const a = await open("A");
        sessions.push(a);
        const b = await open("B");
        sessions.push(b);
        let busy = true;
        const bWorks = (async () => {
          while (busy) await b.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 0.2, steps: 2 } }).catch(() => {});
        })();
        const results: string[] = [];
        for (let i = 0; i < 20; i++) results.push(textOf(await a.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: `A's secret ${i}`, maxTokens: 5 } })));
        busy = false;
        await bWorks;
        expect(reached.B).toEqual([]);
        expect(reached.A).toHaveLength(20);
        expect(results.filter((r) => !r.includes("sampled by A")).length).toBe(0);
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
    },
    SLOW,
  );

  // Row: "a request nested 50k deep, or a child's answer line that is not UTF-8 or is nested 100k deep → never
  // answered: the editor waits until its own timeout".
  // Independent of each other and of everything above: run at once.
  test.concurrent(
    "a request nested 50,000 deep gets an answer or an error, as directly",
    async () => {
      const project = sandbox.project("deep-request");
      const depth = 50_000;
      const line = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"deep","extra":${"[".repeat(depth)}${"]".repeat(depth)}}}}`;
      const answered = async (launch: Launch) => {
        const raw = new RawStdio(launch);
        sandbox.track(raw.pid);
        try {
          await raw.initialize();
          raw.send(line);
          return await raw.answer(7, ANSWER_WITHIN_MS);
        } finally {
          await raw.close();
        }
      };
      const expected = await answered(direct(NODE, [EVERYTHING, "stdio"], project));
      expect(expected).toContain("Echo: deep");
      const seen = await answered(msmLaunch(sandbox, "everything", project));
      expect(seen, "an answer or an error for request 7").toBeDefined();
    },
    SLOW,
  );

  for (const [tool, args, what] of [
    ["not-utf8", {}, "answer line that is not UTF-8"],
    ["deep", { depth: 100_000 }, "answer line nested 100,000 deep"],
  ] as const) {
    test.concurrent(
      `a child's ${what}: the session gets an answer or an error, never silence`,
      async () => {
        const project = sandbox.project(`bad-${tool}`);
        const raw = new RawStdio(msmLaunch(sandbox, "raw", project));
        sandbox.track(raw.pid);
        try {
          await raw.initialize();
          raw.send(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: tool, arguments: args } }));
          expect(await raw.answer(5, ANSWER_WITHIN_MS), "an answer or an error for request 5").toBeDefined();
          // And the session still works afterwards.
          raw.send(JSON.stringify({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "whoami", arguments: {} } }));
          expect(await raw.answer(6, ANSWER_WITHIN_MS)).toContain("raw");
        } finally {
          await raw.close();
        }
      },
      SLOW,
    );
  }
});

describe("the environment a hosted child sees", () => {
  // Row: "session A starts with SECRET_OF_PROJECT_A in its env; later session B in another project has its own →
  // the first session's whole environment becomes the supervisor's, every daemon's and every hosted child's".
  test(
    "environment: each project's child sees its own session's variables, never another project's; a global child and the daemons see neither",
    async () => {
      // A fresh supervisor: A's session is the one that starts it, and the daemons.
      const sandbox = new Sandbox();
      const config = {
        targets: {
          memory: { port: 0 },
          raw: { command: BUN, args: [RAW] },
          "raw-global": { command: BUN, args: [RAW], share: "global", env: { FROM_CONFIG: "configured" } },
        },
      };
      writeFileSync(join(sandbox.msmHome, "config.json"), JSON.stringify(config, null, 2));
      const direct = (command: string, args: string[], cwd: string, env: Record<string, string> = {}): Launch => ({ command, args, env: { ...sandbox.env, ...env }, cwd, serverLog: () => "" });
      const pa = sandbox.project("env-a");
      const pb = sandbox.project("env-b");
      const names = ["SECRET_OF_PROJECT_A", "SECRET_OF_PROJECT_B", "FROM_CONFIG"];
      const envA = { SECRET_OF_PROJECT_A: "a-secret" };
      const envB = { SECRET_OF_PROJECT_B: "b-secret" };
      const ask = async (s: { request: (m: string, p?: Record<string, unknown>) => Promise<unknown> }) => void (await s.request("tools/call", { name: "env", arguments: { names } }));
      const reported = (t: Transcript) => JSON.parse(toolText(t, "env")) as { env: Record<string, string | null>; cwd: string };

      // Directly, each editor session's server gets that session's environment.
      const directB = reported(await runSession("B", "2025-11-25", {}, direct(BUN, [RAW], pb, envB), ask));
      expect(directB.env).toEqual({ SECRET_OF_PROJECT_A: null, SECRET_OF_PROJECT_B: "b-secret", FROM_CONFIG: null });

      // Through msm: A's session comes first (it starts the supervisor and the host), then B's in another project.
      const seenA = reported(await runSession("A", "2025-11-25", {}, msmLaunch(sandbox, "raw", pa, envA), ask));
      const seenB = reported(await runSession("B", "2025-11-25", {}, msmLaunch(sandbox, "raw", pb, envB), ask));
      expect(seenA.env.SECRET_OF_PROJECT_B).toBeNull();
      expect(seenA.env.SECRET_OF_PROJECT_A).toBe("a-secret");
      expect(seenB.env).toEqual(directB.env);
      expect(seenB.cwd).toBe(directB.cwd);

      // A share: global child belongs to no session: the config's env, not A's or B's.
      const global = reported(await runSession("B", "2025-11-25", {}, msmLaunch(sandbox, "raw-global", pb, envB), ask));
      expect(global.env).toEqual({ SECRET_OF_PROJECT_A: null, SECRET_OF_PROJECT_B: null, FROM_CONFIG: "configured" });

      // Nor do the supervisor and the daemons keep A's variables.
      for (const name of ["supervisor", "raw", "raw-global"]) {
        const pid = sandbox.lock(name)?.pid;
        expect(pid, `${name} is running`).toBeDefined();
        expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).not.toContain("SECRET_OF_PROJECT_A=a-secret");
      }
      await sandbox.cleanup(); // on failure, the preload's afterEach does it
    },
    SLOW,
  );
});
