import { describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { Sandbox, alive, call, kill, openSession, waitFor, watchGraph, type Session } from "../helpers/sandbox.ts";
import { toolError } from "../helpers/attacks.ts";

describe("memory durability", () => {
  test("a daemon SIGKILLed in the middle of writes leaves a sound database holding every acknowledged write", async () => {
    const sandbox = new Sandbox();
    try {
      const project = sandbox.project("durable");
      let sessions = await Promise.all([0, 1, 2, 3].map(() => openSession(sandbox, project)));
      await call(sessions[0]!.client, "create_entities", { entities: [{ name: "shared", entityType: "log", observations: [] }] });
      const acked = { entities: new Set<string>(), observations: new Set<string>() };
      let killed = false;
      const writer = async (w: number, round: number) => {
        const client = sessions[w]!.client;
        for (let k = 0; !killed && !sandbox.closed; k++) {
          const name = `r${round}-w${w}-${k}`;
          try {
            if (k % 2 === 0) {
              await call(client, "create_entities", { entities: [{ name, entityType: "t", observations: [`first ${name}`, `second ${name}`] }] });
              acked.entities.add(name);
            } else {
              await call(client, "add_observations", { observations: [{ entityName: "shared", contents: [name] }] });
              acked.observations.add(name);
            }
          } catch {
            // A request in flight when the daemon died fails; it was never acknowledged, so nothing is owed for it.
          }
        }
      };
      // Three rounds: each kills a daemon mid-write; the next round's fresh sessions start a new daemon on the same
      // file, which must recover the WAL the dead one left.
      for (let round = 0; round < 3; round++) {
        if (round > 0) sessions = await Promise.all([0, 1, 2, 3].map(() => openSession(sandbox, project)));
        killed = false;
        const before = acked.entities.size + acked.observations.size;
        const writers = [0, 1, 2, 3].map((w) => writer(w, round));
        const daemon = sandbox.lock("memory")!.pid;
        try {
          await waitFor(() => acked.entities.size + acked.observations.size >= before + 60, 30_000, "writes to be acknowledged");
          kill(daemon, "SIGKILL");
        } finally {
          // Whether the kill happened or the wait failed, the writers stop: a loop left running hung a suite once.
          killed = true;
          await Promise.all(writers);
        }
        await waitFor(() => !alive(daemon), 5000, "daemon to die");
        for (const s of sessions) await s.close();
      }

      const db = new Database(join(project, ".claude", "memory.db"));
      try {
        expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
        db.exec("INSERT INTO entities_fts (entities_fts) VALUES ('integrity-check')");
        db.exec("INSERT INTO observations_fts (observations_fts) VALUES ('integrity-check')");
        const names = new Set((db.query("SELECT name FROM entities").all() as { name: string }[]).map((r) => r.name));
        for (const name of acked.entities) expect(names.has(name)).toBe(true);
        // A created entity has both of its observations: a call is all or nothing.
        const partial = db.query(`SELECT e.name FROM entities e WHERE e.name != 'shared'
          AND (SELECT count(*) FROM observations o WHERE o.entity_id = e.id) != 2`).all();
        expect(partial).toEqual([]);
        const shared = new Set(
          (db.query("SELECT content FROM observations WHERE entity_id = (SELECT id FROM entities WHERE name = 'shared')").all() as { content: string }[]).map((r) => r.content),
        );
        for (const o of acked.observations) expect(shared.has(o)).toBe(true);
      } finally {
        db.close();
      }
    } finally {
      await sandbox.cleanup();
    }
  }, 60_000);
});

describe("memory://knowledge-graph", () => {
  test("subscribers get notifications/resources/updated after every change, from any session on the same database", async () => {
    const sandbox = new Sandbox();
    try {
      const project = sandbox.project("shared");
      const writer = await openSession(sandbox, project);
      const watcher = await openSession(sandbox, project);
      const elsewhere = await openSession(sandbox, sandbox.project("other"));
      const seen = { watcher: await watchGraph(watcher.client), elsewhere: await watchGraph(elsewhere.client) };

      await call(writer.client, "create_entities", { entities: [{ name: "A", entityType: "t", observations: [] }] });
      await waitFor(() => seen.watcher.updates >= 1, 5000, "first notification");
      await call(writer.client, "add_observations", { observations: [{ entityName: "A", contents: ["x"] }] });
      await call(writer.client, "delete_entities", { entityNames: ["nobody"] });
      await waitFor(() => seen.watcher.updates >= 3, 5000, "a notification per change");
      // Reads change nothing and notify nobody; other projects' databases are not this one. The daemon sends a
      // session's notifications in order, so once the next write's notification is in, one for the read would be too.
      await call(writer.client, "read_graph");
      await call(writer.client, "create_entities", { entities: [{ name: "barrier", entityType: "t", observations: [] }] });
      await waitFor(() => seen.watcher.updates >= 4, 5000, "the barrier write's notification");
      expect(seen.watcher.updates).toBe(4);
      expect(seen.elsewhere.updates).toBe(0);
      await call(elsewhere.client, "create_entities", { entities: [{ name: "own", entityType: "t", observations: [] }] });
      await waitFor(() => seen.elsewhere.updates >= 1, 5000, "the other project's own notification");
      expect(seen.elsewhere.updates).toBe(1);
      await call(writer.client, "delete_entities", { entityNames: ["barrier"] });
      await waitFor(() => seen.watcher.updates >= 5, 5000, "the barrier's removal");

      const resource = await watcher.client.readResource({ uri: "memory://knowledge-graph" });
      expect(JSON.parse((resource.contents[0] as { text: string }).text)).toEqual({
        entities: [{ name: "A", entityType: "t", observations: ["x"] }],
        relations: [],
      });
      await watcher.client.unsubscribeResource({ uri: "memory://knowledge-graph" });
      await call(writer.client, "create_entities", { entities: [{ name: "B", entityType: "t", observations: [] }] });
      // Subscribed again, the next change notifies once: had B's change notified, that would have come first.
      await watcher.client.subscribeResource({ uri: "memory://knowledge-graph" });
      await call(writer.client, "create_entities", { entities: [{ name: "C", entityType: "t", observations: [] }] });
      await waitFor(() => seen.watcher.updates >= 6, 5000, "the notification after subscribing again");
      expect(seen.watcher.updates).toBe(6);
      for (const s of [writer, watcher, elsewhere]) await s.close();
    } finally {
      await sandbox.cleanup();
    }
  });
});

// Mounting a small filesystem needs root (the CI runs as root); as an ordinary user this one is skipped.
describe.skipIf(process.getuid?.() !== 0)("a full disk", () => {
  test("the write fails with an error naming the database and what to do; after space is freed the same file takes writes", async () => {
    const sandbox = new Sandbox();
    // A real 2 MiB filesystem holding a real project: SQLite meets ENOSPC as it would on a full laptop disk.
    const project = join(sandbox.root, "projects", "small-disk");
    mkdirSync(project, { recursive: true });
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", project]);
    expect(mount.stderr.toString()).toBe("");
    let session: Session | undefined;
    try {
      mkdirSync(join(project, ".git"));
      session = await openSession(sandbox, project);
      await call(session.client, "create_entities", { entities: [{ name: "before", entityType: "note", observations: ["kept"] }] });
      const file = join(project, ".claude", "memory.db");
      expect((await call<{ database: string }>(session.client, "memory_stats")).database).toBe(file);

      // Fill every byte that is left.
      const filler = join(project, "filler");
      const fd = openSync(filler, "w");
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (let size = chunk.length; size >= 512; ) {
          try {
            writeSync(fd, chunk, 0, size);
          } catch (error) {
            if ((error as { code?: string }).code !== "ENOSPC") throw error;
            size >>= 1;
          }
        }
      } finally {
        closeSync(fd);
      }

      const big = { entities: [{ name: "after", entityType: "note", observations: ["x".repeat(256 * 1024)] }] };
      const text = await toolError(session.client, "create_entities", big);
      expect(text).toContain(file);
      expect(text).toBe(
        `The memory database ${file} cannot be written: the disk holding it has no space left (SQLite: database or disk is full), ` +
          `so this change was not saved. Free space on that disk (df -h ${join(project, ".claude")} shows how much is left), then retry; ` +
          `what was saved before is intact.`,
      );

      // The user frees space: the same database takes the write, and nothing before it was lost.
      rmSync(filler);
      await call(session.client, "create_entities", big);
      const names = (await call<{ entities: { name: string }[] }>(session.client, "read_graph")).entities.map((e) => e.name).sort();
      expect(names).toEqual(["after", "before"]);
    } finally {
      await session?.close();
      await sandbox.cleanup().catch(() => {});
      // Lazy: detached now, gone once the daemon's last open file on it is closed.
      Bun.spawnSync(["umount", "-l", project]);
    }
  }, 60_000);
});
