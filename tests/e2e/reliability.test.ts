// Issue 9: hangs found and healed, `failed` only for broken daemons, stop that sticks, sessions that end, one bad
// target never breaking the others, restart re-reading config, slow starters coming up. Real processes, real
// signals, the real SDK client; every wait is on a condition, with room for a busy 2-core machine.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSM, Sandbox, alive, call, kill, msm, openSession, waitFor } from "../helpers/sandbox.ts";

type Row = {
  name: string;
  state: string;
  pid: number | null;
  uptimeSeconds: number | null;
  restarts: number;
  sessions: number | null;
  idleMinutes: number;
  note: string | null;
};
type Report = { supervisor: { pid: number } | null; targets: Row[]; problems: string[] };

const EVERYTHING = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const base = { supervisor: { port: 0 }, targets: { memory: { port: 0 } } };

async function status(sandbox: Sandbox): Promise<Report & { code: number; text: string }> {
  const out = await msm(sandbox, ["status", "--json"]);
  return { ...JSON.parse(out.stdout), code: out.code, text: out.stdout };
}

const row = (report: Report, name: string) => report.targets.find((t) => t.name === name)!;

/** A new live daemon for `name` (not `previous`) that answers /health or its MCP endpoint. */
async function successor(sandbox: Sandbox, name: string, previous: number, timeoutMs: number) {
  return waitFor(
    () => {
      const lock = sandbox.lock(name);
      return lock && lock.pid !== previous && lock.port > 0 && alive(lock.pid) ? lock : undefined;
    },
    timeoutMs,
    `a new ${name} daemon`,
  );
}

async function stats(sandbox: Sandbox): Promise<{ sessions: number; requests: number }> {
  const lock = sandbox.lock("memory")!;
  const response = await fetch(`http://127.0.0.1:${lock.port}/stats`, { headers: { authorization: `Bearer ${sandbox.token()}` } });
  return (await response.json()) as { sessions: number; requests: number };
}

function supervisorLog(sandbox: Sandbox): string {
  try {
    return readFileSync(join(sandbox.msmHome, "logs", "supervisor.log"), "utf8");
  } catch {
    return "";
  }
}

describe("hangs are found and healed (item 3)", () => {
  test("a frozen daemon (SIGSTOP) is reported, replaced within 30 s, and a call waiting on it gets an error", async () => {
    await using sandbox = new Sandbox(base);
    let frozen = 0;
    try {
      const s = await openSession(sandbox, sandbox.project("p"));
      await call(s.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: [] }] });
      frozen = sandbox.lock("memory")!.pid;
      const stoppedAt = performance.now();
      kill(frozen, "SIGSTOP");
      // A call sent into the frozen daemon: it must end with an error, not hang (72 s and counting before).
      const waiting = call(s.client, "read_graph").then(
        () => ({ ok: true, at: performance.now() }),
        (error: Error) => ({ ok: false, at: performance.now(), message: error.message }),
      );
      const reported = await waitFor(
        async () => {
          const st = await status(sandbox);
          return row(st, "memory").state === "unresponsive" ? st : undefined;
        },
        20_000,
        "status to report the frozen daemon",
      );
      expect(row(reported, "memory").note).toContain("not answering its health check");
      const reportedAt = performance.now();
      const next = await successor(sandbox, "memory", frozen, 30_000);
      const replacedAt = performance.now();
      const outcome = await waiting;
      expect(outcome.ok).toBe(false);
      expect(alive(frozen)).toBe(false);
      process.stderr.write(
        `SIGSTOP'd daemon: reported after ${Math.round(reportedAt - stoppedAt)} ms, waiting call errored after ${Math.round(outcome.at - stoppedAt)} ms, ` +
          `replaced after ${Math.round(replacedAt - stoppedAt)} ms\n`,
      );
      expect(replacedAt - stoppedAt).toBeLessThan(30_000);
      expect(outcome.at - stoppedAt).toBeLessThan(30_000);
      // The session carries on with the new daemon; nothing acknowledged was lost.
      expect((await call<{ entities: { name: string }[] }>(s.client, "read_graph")).entities.map((e) => e.name)).toEqual(["kept"]);
      expect(sandbox.lock("memory")!.pid).toBe(next.pid);
      const after = await waitFor(
        async () => {
          const st = await status(sandbox);
          return row(st, "memory").state === "running" ? st : undefined;
        },
        10_000,
        "status running",
      );
      expect(row(after, "memory").note ?? "").not.toContain("failed");
      await s.close();
    } finally {
      if (frozen) kill(frozen, "SIGKILL");
    }
  }, 120_000);

  test("a frozen supervisor with a dead daemon is replaced by the next proxy that needs it", async () => {
    await using sandbox = new Sandbox(base);
    let frozen = 0;
    try {
      const s = await openSession(sandbox, sandbox.project("p"));
      await call(s.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: [] }] });
      frozen = sandbox.lock("supervisor")!.pid;
      const daemon = sandbox.lock("memory")!.pid;
      kill(frozen, "SIGSTOP");
      const stoppedAt = performance.now();
      kill(daemon, "SIGKILL");
      await waitFor(() => !alive(daemon), 5_000, "daemon to die");
      const graph = await call<{ entities: { name: string }[] }>(s.client, "read_graph");
      const answeredAt = performance.now();
      expect(graph.entities.map((e) => e.name)).toEqual(["kept"]);
      const supervisor = sandbox.lock("supervisor")!;
      expect(supervisor.pid).not.toBe(frozen);
      expect(alive(frozen)).toBe(false);
      process.stderr.write(`frozen supervisor + dead daemon: call answered ${Math.round(answeredAt - stoppedAt)} ms after SIGSTOP\n`);
      expect(row(await status(sandbox), "memory").state).toBe("running");
      await s.close();
    } finally {
      if (frozen) kill(frozen, "SIGKILL");
    }
  }, 120_000);
});

describe("failed means broken, not unlucky (item 4)", () => {
  test("more outside SIGKILLs of a healthy memory daemon than a crash loop takes: restarted every time, never failed", async () => {
    await using sandbox = new Sandbox(base);
    // A two-step backoff (the supervisor inherits it from the session that starts it): three unasked exits in a row
    // would be a crash loop, and each kill waits out EARLY_DEATH_MS, so a short list keeps this test short.
    const backoff = [0, 0];
    const kills = backoff.length + 1;
    const s = await openSession(sandbox, sandbox.project("p"), { env: { MSM_BACKOFF_MS: backoff.join(",") } });
    await call(s.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: [] }] });
    const supervisorEnv = readFileSync(`/proc/${sandbox.lock("supervisor")!.pid}/environ`, "utf8").split("\0");
    expect(supervisorEnv).toContain(`MSM_BACKOFF_MS=${backoff.join(",")}`);
    let victim = sandbox.lock("memory")!.pid;
    for (let kill_ = 1; kill_ <= kills; kill_++) {
      // Healthy and serving for a while (past keeper.EARLY_DEATH_MS = 5 s) — then the OOM killer strikes.
      await waitFor(
        async () => {
          const st = await status(sandbox);
          const memory = row(st, "memory");
          return memory.state === "running" && memory.pid === victim && (memory.uptimeSeconds ?? 0) >= 6;
        },
        30_000,
        `daemon ${kill_} to run 6 s`,
      );
      await call(s.client, "read_graph");
      kill(victim, "SIGKILL");
      victim = (await successor(sandbox, "memory", victim, 20_000)).pid;
    }
    const st = await waitFor(
      async () => {
        const now = await status(sandbox);
        return row(now, "memory").state === "running" ? now : undefined;
      },
      15_000,
      `running after ${kills} kills`,
    );
    expect(st.code).toBe(0);
    expect(row(st, "memory").restarts).toBe(kills);
    expect((await call<{ entities: { name: string }[] }>(s.client, "read_graph")).entities.map((e) => e.name)).toEqual(["kept"]);
    // A second project's new session is served too (before: every session of every project was refused).
    const other = await openSession(sandbox, sandbox.project("q"));
    expect((await call<{ entities: unknown[] }>(other.client, "read_graph")).entities).toEqual([]);
    await other.close();
    await s.close();
  }, 180_000);
});

describe("msm stop sticks (item 5)", () => {
  test("an open session's event stream does not restart a stopped daemon; its next request does", async () => {
    await using sandbox = new Sandbox(base);
    const project = sandbox.project("p");
    const s = await openSession(sandbox, project, { env: { MSM_DEBUG: "1" } });
    await call(s.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: [] }] });
    const first = sandbox.lock("memory")!.pid;
    const stopped = await msm(sandbox, ["stop", "memory"]);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toBe("stopped memory (1 session attached: its next request starts it again)\n");
    await waitFor(() => !alive(first), 10_000, "daemon to exit");
    // The session's event stream tried to come back and was refused: that is the moment it used to restart it.
    await waitFor(() => supervisorLog(sandbox).includes("not starting it for a session's event stream"), 15_000, "the stream's refused ensure");
    await waitFor(() => s.stderr().includes("event stream not reopened"), 15_000, "the proxy to give up the stream");
    expect(sandbox.lock("memory")).toBeUndefined();
    expect(row(await status(sandbox), "memory").state).toBe("stopped");

    const graph = await call<{ entities: { name: string }[] }>(s.client, "read_graph");
    expect(graph.entities.map((e) => e.name)).toEqual(["kept"]);
    const second = sandbox.lock("memory")!.pid;
    expect(second).not.toBe(first);

    // --all: every daemon and the supervisor; the stream finds no supervisor and starts nothing. (Counted from before
    // the command: it returns only once the supervisor has exited, by when the stream may have given up already.)
    const refusals = () => s.stderr().split("event stream not reopened").length - 1;
    const before = refusals();
    const all = await msm(sandbox, ["stop", "--all"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("stopped memory (1 session attached: its next request starts it again)");
    expect(all.stdout).toContain("stopped the supervisor");
    await waitFor(() => !alive(second), 10_000, "daemon to exit");
    await waitFor(() => refusals() > before, 15_000, "the proxy to give up the stream again");
    await waitFor(() => !sandbox.lock("supervisor"), 10_000, "the supervisor to exit");
    expect(sandbox.lock("memory")).toBeUndefined();
    expect((await call<{ entities: { name: string }[] }>(s.client, "read_graph")).entities.map((e) => e.name)).toEqual(["kept"]);
    await s.close();
  }, 120_000);
});

describe("sessions end (item 6)", () => {
  test("a SIGKILLed proxy's session is reaped after MSM_SESSION_IDLE_MS; a live one with its stream open is kept", async () => {
    await using sandbox = new Sandbox(base);
    const idleMs = 1_500;
    const project = sandbox.project("p");
    const env = { MSM_SESSION_IDLE_MS: String(idleMs) };
    const a = await openSession(sandbox, project, { env });
    const b = await openSession(sandbox, project, { env });
    await call(a.client, "read_graph");
    await call(b.client, "read_graph");
    expect((await stats(sandbox)).sessions).toBe(2);
    kill(b.pid, "SIGKILL");
    const killedAt = performance.now();
    await waitFor(async () => (await stats(sandbox)).sessions === 1, 4 * idleMs + 10_000, "the orphan to be reaped");
    const reapedAfter = performance.now() - killedAt;
    process.stderr.write(`orphan session reaped ${Math.round(reapedAfter)} ms after its proxy was SIGKILLed (idle limit ${idleMs} ms)\n`);
    // A's stream stayed open the whole time: it is the one left, and it is still the same session (no re-initialize).
    await waitFor(() => performance.now() - killedAt > 3 * idleMs, 3 * idleMs + 1_000, "three idle periods");
    await call(a.client, "read_graph");
    expect((await stats(sandbox)).sessions).toBe(1);
    expect(row(await status(sandbox), "memory").sessions).toBe(1);
    await a.close();
    await waitFor(async () => (await stats(sandbox)).sessions === 0, 10_000, "the DELETEd session to go");
  }, 90_000);
});

describe("a typo in one target never breaks the others (item 9)", () => {
  test("invalid entry: reported per target by status and its own proxy; memory and valid targets work; then a file that is not JSON", async () => {
    const config = {
      ...base,
      targets: {
        ...base.targets,
        everything: { command: "node", args: [EVERYTHING, "streamableHttp"], env: { PORT: "{port}" }, transport: "streamable-http" },
        typo: { command: "node", args: ["x"], helth: "mcp", transport: "streamable-http" },
      },
    };
    await using sandbox = new Sandbox(config);
    const project = sandbox.project("p");
    const memory = await openSession(sandbox, project);
    expect((await call<{ entities: unknown[] }>(memory.client, "read_graph")).entities).toEqual([]);
    const everything = await openSession(sandbox, project, { target: "everything" });
    expect(JSON.stringify((await everything.client.callTool({ name: "echo", arguments: { message: "hi" } })).content)).toContain("hi");
    // The broken target's proxy says what is wrong (stderr, exit 1) and touches nothing else.
    const init = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    });
    const broken = Bun.spawnSync([MSM, "proxy", "--target", "typo"], { env: sandbox.env, cwd: project, stdin: Buffer.from(init + "\n") });
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout.toString()).toBe("");
    expect(broken.stderr.toString()).toContain('unknown key "targets.typo.helth"');

    const st = await status(sandbox);
    expect(st.code).toBe(1);
    expect(st.supervisor).not.toBeNull();
    expect(row(st, "typo")).toMatchObject({ state: "invalid" });
    expect(row(st, "typo").note).toContain('unknown key "targets.typo.helth"');
    expect(row(st, "memory").state).toBe("running");
    expect(row(st, "everything").state).toBe("running");
    const table = await msm(sandbox, ["status"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain("invalid");
    expect(table.stdout).toContain("targets.typo.helth");

    // The outer structure breaks: memory keeps working on its defaults, status says why and exits 1.
    writeFileSync(join(sandbox.msmHome, "config.json"), '{ "targets": { "memory": ');
    const later = await openSession(sandbox, sandbox.project("q"));
    expect((await call<{ entities: unknown[] }>(later.client, "read_graph")).entities).toEqual([]);
    expect((await call<{ entities: unknown[] }>(memory.client, "read_graph")).entities).toEqual([]);
    const bad = await status(sandbox);
    expect(bad.code).toBe(1);
    expect(bad.supervisor).not.toBeNull();
    expect(bad.problems.join("\n")).toContain("config.json is not valid JSON");
    const badTable = await msm(sandbox, ["status"]);
    expect(badTable.stdout).toContain("is not valid JSON");
    for (const s of [memory, everything, later]) await s.close();
  }, 120_000);
});

describe("config changes apply on restart (item 13)", () => {
  test("msm restart NAME re-reads args, env and idleMinutes of a running target", async () => {
    const target = (extra: object) => ({
      command: "node",
      args: [EVERYTHING, "streamableHttp"],
      env: { PORT: "{port}" },
      transport: "streamable-http",
      ...extra,
    });
    await using sandbox = new Sandbox({ ...base, targets: { ...base.targets, everything: target({}) } });
    const first = await msm(sandbox, ["restart", "everything"]);
    expect(first.code).toBe(0);
    const before = sandbox.lock("everything")!.pid;
    const changed = target({
      args: ["--max-old-space-size=123", EVERYTHING, "streamableHttp"],
      env: { PORT: "{port}", MSM_TEST_MARK: "second" },
      idleMinutes: 7,
    });
    sandbox.writeConfig({ ...base, targets: { ...base.targets, everything: changed } });
    const restarted = await msm(sandbox, ["restart", "everything"]);
    expect(restarted.code).toBe(0);
    const after = sandbox.lock("everything")!.pid;
    expect(after).not.toBe(before);
    expect(readFileSync(`/proc/${after}/cmdline`, "utf8")).toContain("--max-old-space-size=123");
    expect(readFileSync(`/proc/${after}/environ`, "utf8")).toContain("MSM_TEST_MARK=second");
    expect(row(await status(sandbox), "everything")).toMatchObject({ state: "running", idleMinutes: 7 });
  }, 90_000);
});

describe("slow starters come up (item 14)", () => {
  test("a server that needs 26 s to start is waited for (default startTimeoutSeconds 60) and serves the waiting session", async () => {
    await using sandbox = new Sandbox({
      ...base,
      targets: {
        ...base.targets,
        slow: { command: "sh", args: ["-c", `sleep 26 && exec node ${EVERYTHING} streamableHttp`], env: { PORT: "{port}" }, transport: "streamable-http" },
      },
    });
    const started = performance.now();
    const s = await openSession(sandbox, sandbox.project("p"), { target: "slow" });
    const result = await s.client.callTool({ name: "echo", arguments: { message: "finally" } });
    expect(JSON.stringify(result.content)).toContain("finally");
    const waited = performance.now() - started;
    process.stderr.write(`slow starter: session answered after ${Math.round(waited)} ms\n`);
    expect(waited).toBeGreaterThan(26_000);
    expect(row(await status(sandbox), "slow")).toMatchObject({ state: "running", restarts: 0 });
    await s.close();
  }, 120_000);

  test("startTimeoutSeconds takes fractions: 1.5 s is too short for a 4 s starter, and says so", async () => {
    await using sandbox = new Sandbox({
      ...base,
      targets: {
        ...base.targets,
        slow: {
          command: "sh",
          args: ["-c", `sleep 4 && exec node ${EVERYTHING} streamableHttp`],
          env: { PORT: "{port}" },
          transport: "streamable-http",
          startTimeoutSeconds: 1.5,
        },
      },
    });
    const started = performance.now();
    const out = await msm(sandbox, ["restart", "slow"]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("within 1.5 s");
    expect(performance.now() - started).toBeLessThan(20_000);
  }, 60_000);
});
