import { describe, expect, test } from "bun:test";
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox, alive, call, kill, msm, openSession, processesMatching, waitFor } from "../helpers/sandbox.ts";

type Graph = { entities: { name: string }[]; relations: unknown[] };
type Status = {
  supervisor: { pid: number; port: number } | null;
  targets: {
    name: string;
    state: string;
    pid: number | null;
    port: number | null;
    restarts: number;
    sessions: number | null;
    note: string | null;
    lastLog: string[];
  }[];
};

const EVERYTHING = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");
/** Every test config: memory and the manager API on free ports, never the user's 3100/3199. */
const base = { supervisor: { port: 0 }, targets: { memory: { port: 0 } } };

async function status(sandbox: Sandbox): Promise<Status & { code: number }> {
  const out = await msm(sandbox, ["status", "--json"]);
  return { ...JSON.parse(out.stdout), code: out.code };
}

function row(s: Status, name: string) {
  return s.targets.find((t) => t.name === name)!;
}

/** A port some foreign program is listening on for the duration of a test. */
function foreignListener() {
  return Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("not msm") });
}

describe("one daemon, however many sessions race", () => {
  test("20 proxies started at once with nothing running → exactly one supervisor, one daemon, every session answered", async () => {
    await using sandbox = new Sandbox(base);
    const project = sandbox.project("race");
    const started = performance.now();
    const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(sandbox, project)));
    const answers = await Promise.all(
      sessions.map((s, i) => call<Graph>(s.client, "create_entities", { entities: [{ name: `e${i}`, entityType: "t", observations: [] }] })),
    );
    process.stderr.write(`20-proxy race: all answered in ${Math.round(performance.now() - started)} ms\n`);
    expect(answers.map((a) => a.entities.length)).toEqual(Array(20).fill(1));
    const graph = await call<Graph>(sessions[0]!.client, "read_graph");
    expect(graph.entities.length).toBe(20);

    const daemon = sandbox.lock("memory")!;
    expect(processesMatching(sandbox, " memory --detached")).toEqual([daemon.pid]);
    expect(processesMatching(sandbox, " supervisor --detached")).toEqual([sandbox.lock("supervisor")!.pid]);
    // The supervisor is the only spawner: it started the memory daemon exactly once.
    const starts = readFileSync(join(sandbox.msmHome, "logs", "memory.log"), "utf8").match(/starting msm memory/g) ?? [];
    expect(starts.length).toBe(1);
    await Promise.all(sessions.map((s) => s.close()));
  }, 90_000);
});

describe("leftovers are non-events", () => {
  test("stale locks (dead pid, recycled pid, corrupt file) are cleared without anyone typing rm", async () => {
    for (const kind of ["dead pid", "recycled pid", "corrupt"] as const) {
      await using sandbox = new Sandbox(base);
      const sleeper = Bun.spawn(["sleep", "60"]);
      try {
        const dead = Bun.spawn(["true"]);
        await dead.exited;
        const stale = (pid: number, extra: object = {}) =>
          JSON.stringify({ pid, port: 1, transport: "streamable-http", startedAt: new Date(0).toISOString(), version: "0.0.0", path: "/mcp", ...extra });
        const content = kind === "dead pid" ? stale(dead.pid) : kind === "recycled pid" ? stale(sleeper.pid, { pidStart: "1" }) : "{ this is not json";
        writeFileSync(join(sandbox.msmHome, "memory.lock"), content);
        writeFileSync(join(sandbox.msmHome, "supervisor.lock"), content.replace('"streamable-http"', '"http"'));
        // Left over from a crash a minute ago: a corrupt lock written just now would be its live holder's to heal, and
        // is waited for (CORRUPT_GRACE_MS; tests/unit/lock.test.ts covers that wait).
        const minuteAgo = (Date.now() - 60_000) / 1000;
        for (const name of ["memory.lock", "supervisor.lock"]) utimesSync(join(sandbox.msmHome, name), minuteAgo, minuteAgo);

        const s = await openSession(sandbox, sandbox.project("p"));
        expect((await call<Graph>(s.client, "read_graph")).entities).toEqual([]);
        const lock = sandbox.lock("memory")!;
        expect(alive(lock.pid)).toBe(true);
        expect([dead.pid, sleeper.pid]).not.toContain(lock.pid);
        expect(alive(sleeper.pid)).toBe(true); // the program that got the recycled pid is left alone
        await s.close();
      } finally {
        sleeper.kill();
      }
    }
  }, 90_000);

  test("configured ports held by a foreign program → free ports, recorded in the locks", async () => {
    const memoryPort = foreignListener();
    const managerPort = foreignListener();
    await using sandbox = new Sandbox({ supervisor: { port: managerPort.port }, targets: { memory: { port: memoryPort.port } } });
    try {
      const s = await openSession(sandbox, sandbox.project("p"));
      expect((await call<Graph>(s.client, "read_graph")).entities).toEqual([]);
      const lock = sandbox.lock("memory")!;
      expect(lock.port).toBeGreaterThan(0);
      expect(lock.port).not.toBe(memoryPort.port);
      expect(sandbox.lock("supervisor")!.port).not.toBe(managerPort.port);
      // The foreign programs were not disturbed.
      expect(await (await fetch(`http://127.0.0.1:${memoryPort.port}/`)).text()).toBe("not msm");
      const st = await status(sandbox);
      expect(st.supervisor!.port).toBe(sandbox.lock("supervisor")!.port);
      await s.close();
    } finally {
      memoryPort.stop(true);
      managerPort.stop(true);
    }
  }, 90_000);
});

describe("external targets", () => {
  test("server-everything (streamable HTTP) is shared by two sessions through one process, and stopped with its group", async () => {
    const busy = foreignListener();
    await using sandbox = new Sandbox({
      ...base,
      targets: {
        ...base.targets,
        everything: {
          command: "node",
          args: [EVERYTHING, "streamableHttp"],
          env: { PORT: "{port}" },
          transport: "streamable-http",
          port: busy.port,
          health: "mcp",
        },
      },
    });
    try {
      const project = sandbox.project("p");
      const [a, b] = await Promise.all([openSession(sandbox, project, { target: "everything" }), openSession(sandbox, project, { target: "everything" })]);
      for (const [client, text] of [
        [a.client, "from a"],
        [b.client, "from b"],
      ] as const) {
        const result = await client.callTool({ name: "echo", arguments: { message: text } });
        expect(JSON.stringify(result.content)).toContain(text);
      }
      const lock = sandbox.lock("everything")!;
      expect(lock.port).not.toBe(busy.port);
      expect(processesMatching(sandbox, "server-everything")).toEqual([lock.pid]);
      // The server's own stdout/stderr land in its log, next to msm's notes.
      const logs = await msm(sandbox, ["logs", "everything", "-n", "50"]);
      expect(logs.stdout).toContain(`listening on port ${lock.port}`);
      expect(logs.stdout).toContain(`port ${busy.port} is busy`);

      const stopped = await msm(sandbox, ["stop", "everything"]);
      expect(stopped.code).toBe(0);
      expect(stopped.stdout).toContain("stopped everything");
      await waitFor(() => processesMatching(sandbox, "server-everything").length === 0, 10_000, "no server-everything left");
      expect(sandbox.lock("everything")).toBeUndefined();
      await a.close();
      await b.close();
    } finally {
      busy.stop(true);
    }
  }, 90_000);
});

describe("self-healing", () => {
  test("a daemon killed with SIGKILL is restarted within seconds, without any request", async () => {
    await using sandbox = new Sandbox(base);
    const s = await openSession(sandbox, sandbox.project("p"));
    await call(s.client, "read_graph");
    const victim = sandbox.lock("memory")!.pid;
    const killedAt = performance.now();
    kill(victim, "SIGKILL");
    const successor = await waitFor(
      () => {
        const lock = sandbox.lock("memory");
        return lock && lock.pid !== victim && lock.port > 0 && alive(lock.pid) ? lock : undefined;
      },
      15_000,
      "a new memory daemon",
    );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${successor.port}/health`).catch(() => undefined))?.ok, 10_000, "health");
    process.stderr.write(`killed daemon replaced in ${Math.round(performance.now() - killedAt)} ms\n`);
    const st = await waitFor(
      async () => {
        const now = await status(sandbox);
        return row(now, "memory").state === "running" ? now : undefined;
      },
      10_000,
      "status running",
    );
    expect(row(st, "memory")).toMatchObject({ state: "running", pid: successor.pid, restarts: 1 });
    await s.close();
  }, 90_000);

  test("the supervisor killed with SIGKILL leaves daemons serving; the next one adopts and watches them", async () => {
    await using sandbox = new Sandbox(base);
    const project = sandbox.project("p");
    const a = await openSession(sandbox, project);
    await call(a.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: [] }] });
    const daemon = sandbox.lock("memory")!.pid;
    const first = sandbox.lock("supervisor")!.pid;
    kill(first, "SIGKILL");
    await waitFor(() => !alive(first), 5000, "supervisor to die");
    expect(alive(daemon)).toBe(true);
    expect((await call<Graph>(a.client, "read_graph")).entities.map((e) => e.name)).toEqual(["kept"]);

    // The next session goes straight to the daemon and brings a supervisor back, which adopts the daemon.
    const b = await openSession(sandbox, project);
    expect((await call<Graph>(b.client, "read_graph")).entities.map((e) => e.name)).toEqual(["kept"]);
    const second = await waitFor(
      () => {
        const lock = sandbox.lock("supervisor");
        return lock && lock.pid !== first && lock.port > 0 ? lock.pid : undefined;
      },
      15_000,
      "a new supervisor",
    );
    const st = await status(sandbox);
    expect(st.supervisor!.pid).toBe(second);
    expect(row(st, "memory")).toMatchObject({ state: "running", pid: daemon });

    // Adopted means watched: its death is noticed and repaired by the new supervisor.
    kill(daemon, "SIGKILL");
    await waitFor(
      () => {
        const lock = sandbox.lock("memory");
        return lock && lock.pid !== daemon && lock.port > 0 && alive(lock.pid);
      },
      15_000,
      "the adopted daemon to be restarted",
    );
    await a.close();
    await b.close();
  }, 90_000);

  test("a crash loop ends in state failed with its last log lines; status exits non-zero; restart clears it", async () => {
    await using sandbox = new Sandbox({
      ...base,
      targets: { ...base.targets, broken: { command: "sh", args: ["-c", "echo 'boom: cannot open the index'; exit 3"], transport: "streamable-http" } },
    });
    // Short backoff (env inherited by the supervisor this command starts) so the loop ends in seconds, not 31 s.
    const first = await msm(sandbox, ["restart", "broken"], { MSM_BACKOFF_MS: "50,50,50,50,50" });
    expect(first.code).not.toBe(0);
    expect(first.stderr).toContain("msm logs broken");

    const failed = await waitFor(
      async () => {
        const st = await status(sandbox);
        return row(st, "broken").state === "failed" ? st : undefined;
      },
      20_000,
      "state failed",
    );
    expect(failed.code).toBe(1);
    expect(row(failed, "broken").lastLog.join("\n")).toContain("boom: cannot open the index");

    const table = await msm(sandbox, ["status"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain("failed");
    expect(table.stdout).toContain("msm restart broken");

    const logs = await msm(sandbox, ["logs", "broken", "-n", "3"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split("\n").length).toBe(3);

    // The user fixes the command; restart leaves the failed state behind.
    const fixed = { command: "node", args: [EVERYTHING, "streamableHttp"], env: { PORT: "{port}" }, transport: "streamable-http" };
    sandbox.writeConfig({ ...base, targets: { ...base.targets, broken: fixed } });
    const restarted = await msm(sandbox, ["restart", "broken"]);
    expect(restarted.code).toBe(0);
    const healthy = await status(sandbox);
    expect(healthy.code).toBe(0);
    expect(row(healthy, "broken")).toMatchObject({ state: "running", pid: sandbox.lock("broken")!.pid });
  }, 90_000);
});

describe("commands a person types", () => {
  test("stop, then the next request starts it again; status --json tells the truth throughout", async () => {
    await using sandbox = new Sandbox(base);
    const project = sandbox.project("p");
    const a = await openSession(sandbox, project);
    await call(a.client, "create_entities", { entities: [{ name: "persisted", entityType: "t", observations: [] }] });
    const first = sandbox.lock("memory")!.pid;

    const before = await status(sandbox);
    expect(before.code).toBe(0);
    expect(before.supervisor!.pid).toBe(sandbox.lock("supervisor")!.pid);
    expect(row(before, "memory")).toMatchObject({ state: "running", pid: first, port: sandbox.lock("memory")!.port });
    expect(row(before, "memory").sessions).toBeGreaterThanOrEqual(1);
    await a.close();

    const stopped = await msm(sandbox, ["stop", "memory"]);
    expect(stopped).toMatchObject({ code: 0, stdout: "stopped memory\n" });
    await waitFor(() => !alive(first), 5000, "daemon to exit");
    expect(sandbox.lock("memory")).toBeUndefined();
    // Stopped on purpose: not restarted behind the user's back. The keeper says "stopped" (not "backoff", which is
    // what a pending restart looks like), so no timer is left to bring it back.
    expect(row(await status(sandbox), "memory").state).toBe("stopped");
    expect(sandbox.lock("memory")).toBeUndefined();

    const b = await openSession(sandbox, project);
    expect((await call<Graph>(b.client, "read_graph")).entities.map((e) => e.name)).toEqual(["persisted"]);
    expect(sandbox.lock("memory")!.pid).not.toBe(first);
    await b.close();

    const all = await msm(sandbox, ["stop", "--all"]);
    expect(all.code).toBe(0);
    await waitFor(() => !sandbox.lock("memory") && !sandbox.lock("supervisor"), 10_000, "everything stopped");
    const after = await status(sandbox);
    expect(after.supervisor).toBeNull();
    expect(row(after, "memory").state).toBe("stopped");
  }, 90_000);

  test("restart gives a new pid; logs prints the daemon's lines", async () => {
    await using sandbox = new Sandbox(base);
    const a = await openSession(sandbox, sandbox.project("p"));
    const first = sandbox.lock("memory")!.pid;
    const restarted = await msm(sandbox, ["restart", "memory"]);
    expect(restarted.code).toBe(0);
    const second = sandbox.lock("memory")!.pid;
    expect(second).not.toBe(first);
    expect(restarted.stdout).toContain(`pid ${second}`);
    expect(alive(first)).toBe(false);
    const logs = await msm(sandbox, ["logs", "memory"]);
    expect(logs.stdout).toContain(`pid ${second}`);
    const unknown = await msm(sandbox, ["logs", "nope"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("Unknown target");
    await a.close();
  }, 90_000);

  test("idle shutdown: a daemon with idleMinutes and no session stops by itself, and comes back on demand", async () => {
    await using sandbox = new Sandbox({ supervisor: { port: 0 }, targets: { memory: { port: 0, idleMinutes: 0.05 } } });
    const project = sandbox.project("p");
    const a = await openSession(sandbox, project);
    await call(a.client, "read_graph");
    const first = sandbox.lock("memory")!.pid;
    await a.close();
    await waitFor(() => !sandbox.lock("memory"), 30_000, "idle stop");
    await waitFor(() => !alive(first), 5_000, "the idle daemon to exit");
    expect(row(await status(sandbox), "memory")).toMatchObject({ state: "stopped", note: "idle for 3 s" });
    const b = await openSession(sandbox, project);
    expect((await call<Graph>(b.client, "read_graph")).entities).toEqual([]);
    await b.close();
  }, 90_000);
});
