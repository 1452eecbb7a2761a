// Hosted children under stress a person actually meets: a session that stops reading (a peer froze a shared server
// for 24 minutes on a full 64 KB pipe), a slow first start (`npx -y` downloading), a command that crash-loops.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, MSM, alive, kill, msm, openSession, waitFor, type Session } from "../helpers/sandbox.ts";
import { EVERYTHING, NODE, textOf } from "../helpers/hosted.ts";

const SLOW = 120_000;

function config(target: object) {
  return { targets: { memory: { port: 0 }, everything: target } };
}

/** A JSON-RPC line for a proxy's stdin. */
const line = (message: object) => JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n";

describe("hosted children under stress", () => {
  test(
    "a session whose editor stopped reading does not slow the other session",
    async () => {
      await using sandbox = new Sandbox(config({ command: NODE, args: [EVERYTHING, "stdio"] }));
      const opened: Session[] = [];
      let stalled: ReturnType<typeof Bun.spawn> | undefined;
      try {
        const project = sandbox.project("p");
        const b = await openSession(sandbox, project, { target: "everything" });
        opened.push(b);
        // The stalled editor: a real proxy whose stdout nobody reads, asking for 20 MB of answers.
        stalled = Bun.spawn([MSM, "proxy", "--target", "everything"], { cwd: project, env: sandbox.env, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
        sandbox.track(stalled.pid);
        const stdin = stalled.stdin as import("bun").FileSink;
        stdin.write(
          line({ id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "stalled", version: "1" } } }),
        );
        stdin.write(line({ method: "notifications/initialized" }));
        const big = "x".repeat(512 * 1024);
        for (let i = 1; i <= 40; i++) stdin.write(line({ id: i, method: "tools/call", params: { name: "echo", arguments: { message: big } } }));
        await stdin.flush();

        // Meanwhile the other session carries on at its usual pace.
        const started = Date.now();
        for (let i = 0; i < 30; i++) {
          expect(textOf(await b.client.callTool({ name: "echo", arguments: { message: `b-${i}` } }))).toBe(`Echo: b-${i}`);
        }
        const elapsed = Date.now() - started;
        expect(elapsed).toBeLessThan(20_000);
        expect(alive(stalled.pid)).toBe(true);
      } finally {
        stalled?.kill("SIGKILL");
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "at the host, a session that leaves its answers untaken past the queue bound is cut off; the other carries on",
    async () => {
      await using sandbox = new Sandbox(config({ command: NODE, args: [EVERYTHING, "stdio"] }));
      const opened: Session[] = [];
      let reader: ReturnType<typeof Bun.spawn> | undefined;
      try {
        const project = sandbox.project("p");
        const b = await openSession(sandbox, project, { target: "everything", env: { MSM_SESSION_QUEUE_BYTES: String(1024 * 1024) } });
        opened.push(b);
        const host = sandbox.lock("everything")!;
        const url = `http://127.0.0.1:${host.port}/mcp`;
        const headers = {
          authorization: `Bearer ${sandbox.token()}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-project-path": project,
        };
        const init = await fetch(url, {
          method: "POST",
          headers,
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
          }),
        });
        const session = init.headers.get("mcp-session-id")!;
        expect(await init.text()).toContain('"result"');
        // A client that sends a request for 6 MB and never reads a byte of the answer (Node, whose paused socket
        // really stops reading, so the kernel buffers fill and the rest waits at the host).
        const body = JSON.stringify({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "echo", arguments: { message: "y".repeat(6 * 1024 * 1024) } },
        });
        const request =
          `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nAuthorization: Bearer ${sandbox.token()}\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nMcp-Session-Id: ${session}\r\nMcp-Protocol-Version: 2025-06-18\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
        const script = `const s = require("net").connect(${host.port}, "127.0.0.1", () => { s.pause(); s.write(${JSON.stringify(request)}); process.stdin.pipe(s); }); setInterval(() => {}, 1000);`;
        reader = Bun.spawn([NODE, "-e", script], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
        sandbox.track(reader.pid);
        const sink = reader.stdin as import("bun").FileSink;
        sink.write(body);
        await sink.flush();
        // Cut off: its session is gone (404), while B still gets answers.
        await waitFor(
          async () => {
            const answer = await fetch(url, {
              method: "POST",
              headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
              body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }),
            }).catch(() => undefined);
            await answer?.body?.cancel();
            return answer?.status === 404;
          },
          60_000,
          "the stalled session to be cut off",
        );
        expect(textOf(await b.client.callTool({ name: "echo", arguments: { message: "fine" } }))).toBe("Echo: fine");
        const log = await msm(sandbox, ["logs", "everything", "-n", "500"]);
        expect(log.stdout).toContain("cut off");
      } finally {
        reader?.kill("SIGKILL");
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "at the host, a session waiting on a call answered as one JSON body is busy, not idle: it is not reaped meanwhile",
    async () => {
      await using sandbox = new Sandbox(config({ command: NODE, args: [EVERYTHING, "stdio"] }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        opened.push(await openSession(sandbox, project, { target: "everything", env: { MSM_SESSION_IDLE_MS: "500" } }));
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
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        });
        headers["mcp-session-id"] = init.headers.get("mcp-session-id")!;
        headers["mcp-protocol-version"] = "2025-06-18";
        await init.text();
        await (await post({ method: "notifications/initialized" })).text();
        // No progress token: the call is held for its 3 s, six idle times, with no stream open.
        const answer = await post({ id: 2, method: "tools/call", params: { name: "trigger-long-running-operation", arguments: { duration: 3, steps: 2 } } });
        expect(answer.headers.get("content-type")).toContain("application/json");
        const message = (await answer.json()) as { error?: unknown; result: { content: { text: string }[] } };
        expect(message.error).toBeUndefined();
        expect(message.result.content[0]?.text).toContain("completed");
        const log = await msm(sandbox, ["logs", "everything", "-n", "500"]);
        expect(log.stdout).not.toContain("no stream and no request");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "the host SIGKILLed: sessions carry on with a new host, and the old host's child is not left behind",
    async () => {
      // A server that outlives its stdin (as many wrappers do): after the host dies it would run forever.
      await using sandbox = new Sandbox(config({ command: "sh", args: ["-c", `"${NODE}" "${EVERYTHING}" stdio; exec sleep 600`] }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await openSession(sandbox, project, { target: "everything" });
        opened.push(a);
        const oldHost = sandbox.lock("everything")!.pid;
        const oldChild = JSON.parse((await msm(sandbox, ["status", "--json"])).stdout).targets.find((t: { name: string }) => t.name === "everything")
          .children[0].pid;
        kill(oldHost, "SIGKILL");
        // (A call racing the kill itself can meet a reset connection: that is the proxy's recovery, tested elsewhere.)
        await waitFor(() => !alive(oldHost), 10_000, "the host to be gone");
        // The proxy finds the host gone, has a new one started and replays its initialize: the editor sees nothing.
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "after" } }))).toBe("Echo: after");
        expect(sandbox.lock("everything")!.pid).not.toBe(oldHost);
        // The orphan (the child's group, now `sleep`) is killed by the next host, from its record of children.
        await waitFor(() => !alive(oldChild), 15_000, "the old host's child to be killed");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "a session whose proxy was SIGKILLed (no DELETE) is released within 5 s: its event stream closing is the signal",
    async () => {
      await using sandbox = new Sandbox(config({ command: NODE, args: [EVERYTHING, "stdio"] }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await openSession(sandbox, project, { target: "everything" });
        opened.push(a);
        const b = await openSession(sandbox, project, { target: "everything" });
        opened.push(b);
        // Each uses the server (a session the discovery cache answers has no session at the host until it does).
        for (const s of [a, b]) expect(textOf(await s.client.callTool({ name: "echo", arguments: { message: "hi" } }))).toBe("Echo: hi");
        const sessions = async () =>
          JSON.parse((await msm(sandbox, ["status", "--json"])).stdout).targets.find((t: { name: string }) => t.name === "everything").children[0].sessions;
        await waitFor(async () => (await sessions()) === 2, 10_000, "both sessions counted");
        const killedAt = Date.now();
        kill(b.pid, "SIGKILL");
        await waitFor(async () => (await sessions()) === 1, 30_000, "the dead session to be released");
        // The idle expiry (10 min) is only the backstop now.
        expect(Date.now() - killedAt).toBeLessThan(5_000);
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "alive" } }))).toBe("Echo: alive");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "restart and stop with a session open log one plain line per session; a probe that never initializes logs nothing",
    async () => {
      const sandbox = new Sandbox(config({ command: NODE, args: [EVERYTHING, "stdio"] }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await openSession(sandbox, project, { target: "everything" });
        opened.push(a);
        // What `claude mcp list` and health checks do: a request without a session that is not an initialize.
        const host = sandbox.lock("everything")!;
        const probe = await fetch(`http://127.0.0.1:${host.port}/mcp`, {
          method: "POST",
          headers: { authorization: `Bearer ${sandbox.token()}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
        });
        await probe.text();
        expect((await msm(sandbox, ["restart", "everything"])).code).toBe(0);
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "again" } }))).toBe("Echo: again");
        expect((await msm(sandbox, ["stop", "everything"])).code).toBe(0);
        const log = readFileSync(join(sandbox.msmHome, "logs", "everything.log"), "utf8");
        expect(log.match(/closed: the host is stopping/g)?.length).toBe(2);
        expect(log).not.toContain("not an initialize request");
        // No uncaught-error dump: no source lines, no stack frames.
        expect(log).not.toMatch(/^\s*at |^\s*\d+ \| |^error: /m);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await sandbox.cleanup();
      }
    },
    SLOW,
  );

  test(
    "a slow first start: the session waits for the child instead of failing",
    async () => {
      // Like `npx -y` downloading for a few seconds before the server speaks.
      await using sandbox = new Sandbox(config({ command: "sh", args: ["-c", `sleep 3; exec "${NODE}" "${EVERYTHING}" stdio`], startTimeoutSeconds: 60 }));
      const opened: Session[] = [];
      try {
        const project = sandbox.project("p");
        const a = await openSession(sandbox, project, { target: "everything" });
        opened.push(a);
        expect(textOf(await a.client.callTool({ name: "echo", arguments: { message: "late" } }))).toBe("Echo: late");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "a child that crash-loops is marked failed with its last stderr lines, its target degraded (exit 1); the session is told what to do",
    async () => {
      await using sandbox = new Sandbox(config({ command: "sh", args: ["-c", "echo 'boom: no API key set' >&2; exit 3"] }));
      const project = sandbox.project("p");
      const error = await openSession(sandbox, project, { target: "everything", env: { MSM_BACKOFF_MS: "50,50" } }).then(
        () => "connected",
        (e: Error) => e.message,
      );
      expect(error).toContain("crashed 3 times in a row");
      expect(error).toContain("boom: no API key set");
      expect(error).toContain("msm restart everything");
      const status = await msm(sandbox, ["status", "--json"]);
      const row = JSON.parse(status.stdout).targets.find((t: { name: string }) => t.name === "everything");
      const child = row.children[0];
      expect(child.state).toBe("failed");
      expect(child.lastStderr).toContain("boom: no API key set");
      // The host process runs, but this project's sessions get errors: the target is not `running`, and status
      // exits 1 as the README promises for a failed target.
      expect(row.state).toBe("degraded");
      expect(row.note).toBe(`the child for ${project} failed: crashed 3 times in a row; last: exit code 3`);
      expect(status.code).toBe(1);
      const table = await msm(sandbox, ["status"]);
      expect(table.code).toBe(1);
      expect(table.stdout).toContain("boom: no API key set");
      expect(table.stdout).toMatch(/everything\s+● degraded/);
      // The table wraps long lines at 80 columns: read it as running text.
      expect(table.stdout.replace(/\s+/g, " ")).toContain(`msm restart everything --project ${project}`);
      expect(table.stdout.replace(/\s+/g, " ")).toContain(`everything: the child for ${project} failed: crashed 3 times in a row`);
      // Without a supervisor, status asks the host itself and says the same.
      kill(sandbox.lock("supervisor")!.pid, "SIGKILL");
      await waitFor(() => sandbox.lock("supervisor") === undefined || !alive(sandbox.lock("supervisor")!.pid), 10_000, "the supervisor to die");
      const fromLocks = await msm(sandbox, ["status", "--json"]);
      const lockRow = JSON.parse(fromLocks.stdout).targets.find((t: { name: string }) => t.name === "everything");
      expect(JSON.parse(fromLocks.stdout).supervisor).toBeNull();
      expect(lockRow.state).toBe("degraded");
      expect(lockRow.note).toContain(`the child for ${project} failed`);
      expect(fromLocks.code).toBe(1);
    },
    SLOW,
  );
});
