// @modelcontextprotocol/server-everything in stdio mode, hosted by msm and shared by two sessions at once, each a
// real SDK client over `dist/msm proxy`. Every test is a failure mode a shipped multiplexer had:
// - 1MCP: one shared handler per method sent sampling, progress and logs of every session to the newest session;
// - mcp-mux: progress broadcast (Claude Code drops the connection on an unknown token), colliding request ids,
//   re-sent notifications/initialized, lost requests on a child crash (Claude Code hangs forever);
// - supergateway/mcp-hub: one client's teardown took the shared child down for everyone.
import { describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { Sandbox, alive, kill, msm, openSession, processesMatching, waitFor, type Session } from "../helpers/sandbox.ts";
import { EVERYTHING, NODE, textOf } from "../helpers/hosted.ts";

const SLOW = 120_000;

interface Seen {
  sampled: string[];
  elicited: string[];
  updates: string[];
  listChanged: number;
  logs: number;
}

/** A session declaring sampling, elicitation and roots, recording what reaches it. */
async function everythingSession(
  sandbox: Sandbox,
  project: string,
  name: string,
  capabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } },
  rootsName = name,
) {
  const seen: Seen = { sampled: [], elicited: [], updates: [], listChanged: 0, logs: 0 };
  const session = await openSession(sandbox, project, {
    target: "everything",
    clientName: name,
    capabilities,
    setup: (client: Client) => {
      if ("sampling" in capabilities) {
        client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
          seen.sampled.push(JSON.stringify(request.params.messages));
          return { model: `model-of-${name}`, role: "assistant", content: { type: "text", text: `sampled by ${name}` } };
        });
      }
      if ("elicitation" in capabilities) {
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          seen.elicited.push(request.params.message);
          return {
            action: "accept",
            content: {
              name: `elicited by ${name}`,
              check: true,
              email: "a@b.c",
              homepage: "https://x.y",
              birthdate: "2000-01-01",
              integer: 1,
              number: 1,
              untitledSingleSelectEnum: "option1",
              titledSingleSelectEnum: "value1",
              legacyTitledEnum: "opt1",
              untitledMultipleSelectEnum: ["option1"],
              titledMultipleSelectEnum: ["value1"],
            },
          };
        });
      }
      if ("roots" in capabilities)
        client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file:///roots-of-${rootsName}`, name: rootsName }] }));
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void seen.listChanged++);
      client.setNotificationHandler(LoggingMessageNotificationSchema, async () => void seen.logs++);
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void seen.updates.push(n.params.uri));
    },
  });
  return { ...session, seen };
}

function config(extra: object = {}) {
  return { targets: { memory: { port: 0 }, everything: { command: NODE, args: [EVERYTHING, "stdio"], ...extra } } };
}

function children(sandbox: Sandbox): number[] {
  return processesMatching(sandbox, "server-everything/dist/index.js");
}

async function childPid(sandbox: Sandbox): Promise<number> {
  const status = JSON.parse((await msm(sandbox, ["status", "--json"])).stdout);
  return status.targets.find((t: { name: string }) => t.name === "everything").children[0].pid;
}

describe("server-everything (stdio) shared by two sessions", () => {
  test(
    "progress, sampling, elicitation, roots, subscriptions, list_changed, logs and equal request ids each reach the right session",
    async () => {
      await using sandbox = new Sandbox(config());
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        // Same capabilities, same roots: one child, as both would see the same server directly.
        const caps = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
        const a = await everythingSession(sandbox, project, "A", caps, "p");
        opened.push(a);
        const b = await everythingSession(sandbox, project, "B", caps, "p");
        opened.push(b);
        expect(children(sandbox)).toHaveLength(1);

        // Progress: both ask at once with the same request ids (and so the same progress tokens, as the SDK uses
        // the id): each gets exactly its own five steps, in order.
        const progressA: number[] = [];
        const progressB: number[] = [];
        const long = (s: Session, into: number[]) =>
          s.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 5 } }, undefined, {
            onprogress: (p) => void into.push(p.progress),
          });
        await Promise.all([long(a, progressA), long(b, progressB)]);
        // Each its own steps, once each, in order. (The SDK client dispatches progress a microtask late and drops
        // it when the answer arrived in the same read, so the last step may be missing — with or without msm.)
        for (const seen of [progressA, progressB]) {
          expect(seen.length).toBeGreaterThanOrEqual(4);
          expect(seen).toEqual([1, 2, 3, 4, 5].slice(0, seen.length));
        }

        // Same request ids concurrently: 20 calls each, every answer the caller's own.
        const echoes = (s: Session, tag: string) =>
          Promise.all(Array.from({ length: 20 }, (_, i) => s.client.callTool({ name: "echo", arguments: { message: `${tag}-${i}` } })));
        const [ea, eb] = await Promise.all([echoes(a, "A"), echoes(b, "B")]);
        for (const [i, r] of ea.entries()) expect(textOf(r)).toBe(`Echo: A-${i}`);
        for (const [i, r] of eb.entries()) expect(textOf(r)).toBe(`Echo: B-${i}`);

        // Sampling reaches the session whose call triggered it, never the other.
        const sampledA = await a.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "from A", maxTokens: 5 } });
        expect(textOf(sampledA)).toContain("sampled by A");
        expect(a.seen.sampled).toHaveLength(1);
        expect(b.seen.sampled).toHaveLength(0);
        const sampledB = await b.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "from B", maxTokens: 5 } });
        expect(textOf(sampledB)).toContain("sampled by B");
        expect(a.seen.sampled).toHaveLength(1);
        expect(b.seen.sampled).toHaveLength(1);

        // Elicitation likewise.
        const elicitedB = await b.client.callTool({ name: "trigger-elicitation-request", arguments: {} });
        expect(textOf(elicitedB)).toContain("elicited by B");
        expect(b.seen.elicited).toHaveLength(1);
        expect(a.seen.elicited).toHaveLength(0);

        // roots/list was answered by the sessions' own client, never invented by msm.
        const roots = textOf(await a.client.callTool({ name: "get-roots-list", arguments: {} }));
        expect(roots).toMatch(/Current MCP Roots \(1 total\)[\s\S]*URI: file:\/\/\/roots-of-p\n/);
        // A session with roots of its own gets a child of its own, which sees those roots.
        const c = await everythingSession(sandbox, project, "C", caps);
        opened.push(c);
        // (C is answered from the discovery cache until its first call, so its child starts with that call.)
        expect(textOf(await c.client.callTool({ name: "get-roots-list", arguments: {} }))).toContain("URI: file:///roots-of-C\n");
        await waitFor(() => children(sandbox).length === 2, 20_000, "a second child for other roots");
        expect(textOf(await a.client.callTool({ name: "get-roots-list", arguments: {} }))).toContain("URI: file:///roots-of-p\n");
        await c.close();
        opened.pop();

        // Log messages reach every session of the child.
        await a.client.callTool({ name: "toggle-simulated-logging", arguments: {} });
        await waitFor(() => a.seen.logs > 0 && b.seen.logs > 0, 20_000, "log messages in both sessions");

        // A resource subscription's updates reach the subscriber only; subscriptions are counted per session, so
        // A leaving the URI does not stop B's updates.
        const uri = "demo://static/docs/features.md";
        await a.client.subscribeResource({ uri });
        await a.client.callTool({ name: "toggle-subscriber-updates", arguments: {} });
        await waitFor(() => a.seen.updates.length > 0, 20_000, "a resource update for the subscriber");
        expect(b.seen.updates).toHaveLength(0);
        await b.client.subscribeResource({ uri });
        await a.client.unsubscribeResource({ uri });
        const aBefore = a.seen.updates.length;
        await waitFor(() => b.seen.updates.length > 0, 20_000, "a resource update for the second subscriber");
        expect(a.seen.updates.length).toBe(aBefore);

        // list_changed reaches both: restarting the child re-registers its tools, and it says so.
        const listedBefore = a.seen.listChanged + b.seen.listChanged;
        const restarted = await msm(sandbox, ["restart", "everything", "--project", project]);
        expect(restarted.stdout).toContain(`restarted everything for ${project}`);
        await waitFor(
          () => a.seen.listChanged > 0 && b.seen.listChanged > 0 && a.seen.listChanged + b.seen.listChanged > listedBefore,
          20_000,
          "tools/list_changed in both sessions",
        );
        expect(textOf(await b.client.callTool({ name: "echo", arguments: { message: "after restart" } }))).toBe("Echo: after restart");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "a session that declared no sampling gets what its own client would get directly, on a child of its own; the sampling one is asked, even while the other is busy",
    async () => {
      await using sandbox = new Sandbox(config());
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await everythingSession(sandbox, project, "A");
        opened.push(a);
        // B declares roots only: the server, started for a client like B, offers no sampling tool at all.
        const b = await everythingSession(sandbox, project, "B", { roots: { listChanged: true } } as never);
        opened.push(b);
        expect(children(sandbox)).toHaveLength(2);
        const busy = b.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 3, steps: 3 } });
        const sampled = await a.client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "x", maxTokens: 5 } });
        expect(textOf(sampled)).toContain("sampled by A");
        expect(textOf(await busy)).toContain("Long running operation completed");
        const toolsB = (await b.client.listTools()).tools.map((t) => t.name);
        expect(toolsB).not.toContain("trigger-sampling-request");
        expect((await a.client.listTools()).tools.map((t) => t.name)).toContain("trigger-sampling-request");
        expect(a.seen.sampled).toHaveLength(1);
        expect(a.seen.elicited).toHaveLength(0);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "the child SIGKILLed under two sessions: the call in flight gets an error, the next call works; a session's Claude Code teardown leaves the other working; idle children go",
    async () => {
      await using sandbox = new Sandbox(config({ idleMinutes: 0.05 }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await everythingSession(sandbox, project, "A");
        opened.push(a);
        const b = await everythingSession(sandbox, project, "B");
        opened.push(b);
        const first = await childPid(sandbox);

        const inFlight = a.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 20, steps: 20 } });
        await Bun.sleep(300);
        kill(first, "SIGKILL");
        const failed = await inFlight.then(
          () => "answered",
          (error: Error) => error.message,
        );
        expect(failed).toContain("exited");
        // The next calls wait for the restarted child instead of failing.
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "again" } }))).toBe("Echo: again");
        expect(textOf(await b.client.callTool({ name: "echo", arguments: { message: "b too" } }))).toBe("Echo: b too");
        const second = await childPid(sandbox);
        expect(second).not.toBe(first);
        expect(alive(first)).toBe(false);

        // Claude Code closing B: SIGINT, SIGTERM 100 ms later, SIGKILL 400 ms after that — to B's proxy only.
        kill(b.pid, "SIGINT");
        await Bun.sleep(100);
        kill(b.pid, "SIGTERM");
        await Bun.sleep(400);
        kill(b.pid, "SIGKILL");
        await waitFor(() => !alive(b.pid), 5_000, "B's proxy to be gone");
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "still here" } }))).toBe("Echo: still here");
        expect(await childPid(sandbox)).toBe(second);

        // The last session leaves: after idleMinutes (3 s here) the child is gone.
        await a.close();
        await waitFor(() => !alive(second), 30_000, "the idle child to be stopped");
        expect(children(sandbox)).toHaveLength(0);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "at the host, a call that streams nothing is answered as one JSON body; progress or a request from the child still streams",
    async () => {
      await using sandbox = new Sandbox(config());
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        opened.push(await openSession(sandbox, project, { target: "everything" }));
        const url = `http://127.0.0.1:${sandbox.lock("everything")!.port}/mcp`;
        const headers: Record<string, string> = {
          authorization: `Bearer ${sandbox.token()}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-project-path": project,
        };
        const post = (body: object) => fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", ...body }) });
        const init = await post({
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: { sampling: {} }, clientInfo: { name: "raw", version: "1" } },
        });
        headers["mcp-session-id"] = init.headers.get("mcp-session-id")!;
        headers["mcp-protocol-version"] = "2025-06-18";
        await init.text();
        expect((await post({ method: "notifications/initialized" })).status).toBe(202);

        const plain = await post({ id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "lean" } } });
        expect(plain.headers.get("content-type")).toContain("application/json");
        expect(await plain.json()).toMatchObject({ id: 2, result: { content: [{ type: "text", text: "Echo: lean" }] } });

        const withProgress = await post({
          id: 3,
          method: "tools/call",
          params: { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 }, _meta: { progressToken: "p3" } },
        });
        expect(withProgress.headers.get("content-type")).toContain("text/event-stream");
        const events = await withProgress.text();
        expect(events).toContain('"notifications/progress"');
        expect(events).toContain('"id":3');

        // No progress asked, but the child asks this session to sample before it answers: the answer becomes a stream.
        const sampling = await post({ id: 4, method: "tools/call", params: { name: "trigger-sampling-request", arguments: { prompt: "x", maxTokens: 5 } } });
        expect(sampling.headers.get("content-type")).toContain("text/event-stream");
        const reader = sampling.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!text.includes("sampling/createMessage")) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended before the sampling request: ${text}`);
          text += value;
        }
        const asked = JSON.parse(
          text
            .split("\n")
            .find((l) => l.startsWith("data: ") && l.includes("sampling/createMessage"))!
            .slice(6),
        );
        const answer = await post({ id: asked.id, result: { model: "raw", role: "assistant", content: { type: "text", text: "sampled" } } });
        expect(answer.status).toBe(202);
        while (!text.includes('"id":4')) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        expect(text).toContain("sampled");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );
});
