// Lock files are untrusted: a pid in one may have been reused, the file may be hand-made or torn. msm must never
// send its bearer token or a signal to a process on a lock's word alone, and never run two daemons of one target.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, alive, call, kill, msm, openSession, processesMatching, waitFor } from "../helpers/sandbox.ts";

/** Daemons start in seconds on a busy 2-core machine; no timing is asserted. */
const SLOW = 90_000;

function writeLock(sandbox: Sandbox, name: string, lock: object): void {
  writeFileSync(join(sandbox.msmHome, `${name}.lock`), JSON.stringify(lock));
}

/** A live process that is not msm: the "reused pid" of a lock. */
function stranger(sandbox: Sandbox): number {
  const sleeper = Bun.spawn(["sleep", "120"], { stdout: "ignore", stderr: "ignore" });
  sandbox.track(sleeper.pid);
  return sleeper.pid;
}

describe("locks and pids are never trusted blindly (issue 9, item 10)", () => {
  test(
    "a reused pid plus a foreign server on the lock's port never receives the bearer token",
    async () => {
      await using sandbox = new Sandbox();
      const seen: string[] = [];
      const foreign = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch(request) {
          seen.push(request.headers.get("authorization") ?? "");
          return new Response("not here", { status: 404 });
        },
      });
      try {
        const project = sandbox.project("p");
        const first = await openSession(sandbox, project);
        await call(first.client, "read_graph");
        await first.close();
        expect((await msm(sandbox, ["stop", "memory"])).code).toBe(0);
        // The supervisor still runs, so a new session takes the fast path: the lock's port, no health check.
        writeLock(sandbox, "memory", {
          pid: stranger(sandbox),
          port: foreign.port,
          transport: "streamable-http",
          path: "/mcp",
          startedAt: new Date().toISOString(),
          version: "0.1.0",
          pidStart: "1",
        });
        const second = await openSession(sandbox, project);
        await call(second.client, "create_entities", { entities: [{ name: "a", entityType: "t", observations: [] }] });
        await second.close();
        expect(seen.filter((header) => header.includes(sandbox.token()))).toEqual([]);
      } finally {
        foreign.stop(true);
      }
    },
    SLOW,
  );

  test(
    "msm stop, stop --all and restart never signal a process named by a hand-made lock",
    async () => {
      await using sandbox = new Sandbox();
      const pid = stranger(sandbox);
      const handMade = { pid, port: 1, transport: "streamable-http", path: "/mcp", startedAt: new Date().toISOString(), version: "0.1.0" };
      writeLock(sandbox, "memory", handMade);
      const stop = await msm(sandbox, ["stop", "memory"]);
      expect(stop.code).toBe(0);
      expect(stop.stdout).toContain("memory was not running");
      expect(alive(pid)).toBe(true);
      writeLock(sandbox, "memory", handMade);
      expect((await msm(sandbox, ["stop", "--all"])).code).toBe(0);
      expect(alive(pid)).toBe(true);
      // Through a running supervisor too.
      const session = await openSession(sandbox, sandbox.project("p"));
      await session.close();
      expect((await msm(sandbox, ["stop", "memory"])).code).toBe(0);
      writeLock(sandbox, "memory", handMade);
      const restart = await msm(sandbox, ["restart", "memory"]);
      expect(restart.code).toBe(0);
      expect(alive(pid)).toBe(true);
      expect(sandbox.lock("memory")?.pid).not.toBe(pid);
    },
    SLOW,
  );

  test(
    "a corrupt lock plus a supervisor restart never leaves two daemons of one target",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      const first = await openSession(sandbox, project);
      await call(first.client, "read_graph");
      const daemon = sandbox.lock("memory")!.pid;
      const supervisor = sandbox.lock("supervisor")!.pid;
      writeFileSync(join(sandbox.msmHome, "memory.lock"), "{ torn");
      kill(supervisor, "SIGKILL");
      await waitFor(() => !alive(supervisor), 10_000, "the supervisor to die");
      const second = await openSession(sandbox, project);
      await call(second.client, "read_graph");
      await call(first.client, "read_graph");
      // The running daemon keeps its lock (rewritten whole), and no second one stays up beside it.
      await waitFor(() => sandbox.lock("memory")?.pid === daemon, 15_000, "the daemon's own lock to be back");
      await waitFor(() => processesMatching(sandbox, "memory --detached").length === 1, 15_000, "a single memory daemon");
      expect(processesMatching(sandbox, "memory --detached")).toEqual([daemon]);
      await first.close();
      await second.close();
    },
    SLOW,
  );
});
