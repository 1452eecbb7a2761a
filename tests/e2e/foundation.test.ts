import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { MSM, Sandbox, alive, call, kill, openSession, waitFor } from "../helpers/sandbox.ts";

type Graph = { entities: { name: string; entityType: string; observations: string[] }[]; relations: unknown[] };

describe("two editor sessions share one memory daemon", () => {
  test("sessions in one project see each other's writes through a single daemon", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("alpha");
    const a = await openSession(sandbox, project);
    const b = await openSession(sandbox, project);
    await call(a.client, "create_entities", { entities: [{ name: "Ada", entityType: "person", observations: ["wrote the first program"] }] });
    const seen = await call<Graph>(b.client, "open_nodes", { names: ["Ada"] });
    expect(seen.entities).toEqual([{ name: "Ada", entityType: "person", observations: ["wrote the first program"] }]);
    const lock = sandbox.lock("memory")!;
    expect(alive(lock.pid)).toBe(true);
    // Exactly one daemon process for this MSM_HOME.
    const daemons = Bun.spawnSync(["pgrep", "-f", "msm memory --detached"]).stdout.toString().trim().split("\n").filter(Boolean).map(Number);
    expect(
      daemons.filter((pid) =>
        Bun.spawnSync(["cat", `/proc/${pid}/environ`])
          .stdout.toString()
          .includes(sandbox.msmHome),
      ),
    ).toEqual([lock.pid]);
    await a.close();
    await b.close();
  });

  test("SIGINT to a proxy changes nothing", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("alpha");
    const a = await openSession(sandbox, project);
    kill(a.pid, "SIGINT");
    // The signal is pending from the kill() on: a proxy it could end would be gone before it answers this call.
    const out = await call<Graph>(a.client, "create_entities", { entities: [{ name: "after-sigint", entityType: "t", observations: [] }] });
    expect(out.entities.map((e) => e.name)).toEqual(["after-sigint"]);
    expect(alive(a.pid)).toBe(true);
    await a.close();
  });

  test("a proxy killed the way Claude Code kills it leaves the daemon and the other session working", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("alpha");
    const victim = await openSession(sandbox, project);
    const survivor = await openSession(sandbox, project);
    await call(victim.client, "create_entities", { entities: [{ name: "before", entityType: "t", observations: [] }] });
    const daemon = sandbox.lock("memory")!.pid;

    // Claude Code's sequence: SIGINT, SIGTERM 100 ms later, SIGKILL 400 ms after that.
    kill(victim.pid, "SIGINT");
    await Bun.sleep(100);
    kill(victim.pid, "SIGTERM");
    await Bun.sleep(400);
    kill(victim.pid, "SIGKILL");
    await waitFor(() => !alive(victim.pid), 5000, "proxy to exit");

    expect(alive(daemon)).toBe(true);
    await call(survivor.client, "add_observations", { observations: [{ entityName: "before", contents: ["still here"] }] });
    const graph = await call<Graph>(survivor.client, "read_graph");
    expect(graph.entities).toEqual([{ name: "before", entityType: "t", observations: ["still here"] }]);
    await survivor.close();
  });

  test("SIGINT to the proxy's whole process group does not reach the daemon", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("alpha");
    // The proxy leads its own process group here, as an editor's child would sit in the editor's group.
    const proxy = Bun.spawn(["setsid", "--wait", MSM, "proxy", "--target", "memory"], {
      cwd: project,
      env: sandbox.env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    sandbox.track(proxy.pid);
    proxy.stdin.write(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }) + "\n",
    );
    proxy.stdin.flush();
    const daemon = await waitFor(
      () => {
        const lock = sandbox.lock("memory");
        return lock && lock.port > 0 ? lock : undefined;
      },
      15000,
      "daemon lock",
    );
    const reader = proxy.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"protocolVersion"');
    const pgid = Number(
      Bun.spawnSync(["ps", "-o", "pgid=", "-p", String(proxy.pid)])
        .stdout.toString()
        .trim(),
    );
    const daemonPgid = Number(
      Bun.spawnSync(["ps", "-o", "pgid=", "-p", String(daemon.pid)])
        .stdout.toString()
        .trim(),
    );
    expect(daemonPgid).not.toBe(pgid);
    kill(-pgid, "SIGINT");
    // A round trip through the proxy to the daemon after the signal: both would be gone before answering it.
    proxy.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }) + "\n");
    proxy.stdin.flush();
    let seen = "";
    while (!seen.includes('"id":2')) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error("the proxy closed its stdout after SIGINT");
      seen += new TextDecoder().decode(chunk.value);
    }
    expect(alive(proxy.pid)).toBe(true);
    expect(alive(daemon.pid)).toBe(true);
    proxy.stdin.end();
    kill(proxy.pid, "SIGKILL");
  });
});

describe("projects are separate", () => {
  test("a second project sees nothing of the first, and the first has its own .claude/memory.db", async () => {
    await using sandbox = new Sandbox();
    const one = sandbox.project("one");
    const two = sandbox.project("two");
    const a = await openSession(sandbox, one);
    const b = await openSession(sandbox, two);
    await call(a.client, "create_entities", { entities: [{ name: "secret", entityType: "t", observations: ["only in one"] }] });
    expect(await call<Graph>(b.client, "read_graph")).toEqual({ entities: [], relations: [] });
    expect((await call<Graph>(b.client, "search_nodes", { query: "secret" })).entities).toEqual([]);
    const file = join(one, ".claude", "memory.db");
    expect(existsSync(file)).toBe(true);
    const db = new Database(file, { readonly: true });
    expect(db.query("SELECT name FROM entities").all()).toEqual([{ name: "secret" }]);
    db.close();
    await a.close();
    await b.close();
  });
});

describe("concurrent writers", () => {
  test("8 sessions writing at once into one project lose nothing", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("busy");
    const sessions = await Promise.all(Array.from({ length: 8 }, () => openSession(sandbox, project)));
    const PER_SESSION = 25;
    await Promise.all(
      sessions.map(async (s, i) => {
        for (let n = 0; n < PER_SESSION; n++) {
          await call(s.client, "create_entities", { entities: [{ name: `s${i}-e${n}`, entityType: "t", observations: [`o${n}`] }] });
          if (n > 0) await call(s.client, "add_observations", { observations: [{ entityName: `s${i}-e${n - 1}`, contents: [`extra ${n}`] }] });
        }
      }),
    );
    const graph = await call<Graph>(sessions[0]!.client, "read_graph");
    expect(graph.entities.length).toBe(8 * PER_SESSION);
    const observations = graph.entities.reduce((sum, e) => sum + e.observations.length, 0);
    expect(observations).toBe(8 * PER_SESSION + 8 * (PER_SESSION - 1));
    await Promise.all(sessions.map((s) => s.close()));
  }, 60_000);
});
