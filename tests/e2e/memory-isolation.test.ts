// Issue 9, item 7: one slow database never stalls the others. Each database runs on its own worker thread, so a
// foreign program's write lock or a 4 MiB observation in project A leaves project B answering; sizes are capped
// with tool errors that name the limit.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Sandbox, call, openSession } from "../helpers/sandbox.ts";

const base = { supervisor: { port: 0 }, targets: { memory: { port: 0 } } };

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe("one slow database never stalls the others (item 7)", () => {
  test("a foreign write lock on A: A's write fails within seconds naming the holder; B answers meanwhile", async () => {
    await using sandbox = new Sandbox(base);
    let foreign: Database | undefined;
    try {
      const a = await openSession(sandbox, sandbox.project("a"));
      const b = await openSession(sandbox, sandbox.project("b"));
      await call(a.client, "create_entities", { entities: [{ name: "a1", entityType: "t", observations: [] }] });
      await call(b.client, "create_entities", { entities: [{ name: "b1", entityType: "t", observations: [] }] });

      // Another program (this test process) holds A's write lock.
      foreign = new Database(join(sandbox.root, "projects", "a", ".claude", "memory.db"));
      foreign.exec("BEGIN IMMEDIATE");
      let settled = false;
      const blocked = timed(() =>
        a.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "a2", entityType: "t", observations: [] }] } }),
      ).finally(() => (settled = true));

      // B's database is another thread's: it answers while A's write waits on the lock.
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { value, ms } = await timed(() => call<{ entities: { name: string }[] }>(b.client, "read_graph"));
        expect(value.entities.map((e) => e.name)).toEqual(["b1"]);
        latencies.push(ms);
      }
      expect(settled).toBe(false);
      const { value: result, ms } = await blocked;
      expect(result.isError).toBe(true);
      const text = JSON.stringify(result.content);
      expect(text).toContain("locked by another program");
      expect(text).toContain(`pid ${process.pid}`);
      process.stderr.write(
        `foreign lock: A's write answered with an error after ${Math.round(ms)} ms; B's reads meanwhile: ${latencies.map(Math.round).join(", ")} ms\n`,
      );
      expect(ms).toBeLessThan(8_000);

      foreign.exec("ROLLBACK");
      foreign.close();
      foreign = undefined;
      expect(await call<{ entities: unknown[] }>(a.client, "create_entities", { entities: [{ name: "a2", entityType: "t", observations: [] }] })).toMatchObject(
        {
          entities: [{ name: "a2" }],
        },
      );
      await a.close();
      await b.close();
    } finally {
      foreign?.close();
    }
  }, 90_000);

  test("B's calls are answered while A writes a 4 MiB observation, and A's observation comes back intact", async () => {
    await using sandbox = new Sandbox(base);
    const a = await openSession(sandbox, sandbox.project("a"));
    const b = await openSession(sandbox, sandbox.project("b"));
    await call(a.client, "read_graph");
    await call(b.client, "create_entities", { entities: [{ name: "b1", entityType: "t", observations: [] }] });
    // Multi-byte text too: A's call is answered on its database's thread and crosses to the event loop as bytes.
    const big = "x".repeat(4 * 1024 * 1024 - 1024) + 'é日本🎉"\n'.repeat(100);
    let writing = true;
    const write = timed(() => call(a.client, "create_entities", { entities: [{ name: "big", entityType: "t", observations: [big] }] })).finally(
      () => (writing = false),
    );
    const during: number[] = [];
    while (writing) {
      const { value, ms } = await timed(() => call<{ entities: { name: string }[] }>(b.client, "search_nodes", { query: "b1" }));
      expect(value.entities.map((e) => e.name)).toEqual(["b1"]);
      if (writing) during.push(ms);
    }
    const { value: written, ms: writeMs } = await write;
    during.sort((x, y) => x - y);
    const median = during[Math.floor(during.length / 2)] ?? NaN;
    process.stderr.write(
      `A wrote 4 MiB in ${Math.round(writeMs)} ms; B answered ${during.length} calls meanwhile: median ${Math.round(median)} ms, max ${Math.round(during.at(-1) ?? NaN)} ms\n`,
    );
    // The condition, not a timing: B kept being answered while A's write was in flight (before item 7, one call of
    // B's waited for all of it). Latencies are the bench's business (npm run bench -- isolation).
    expect(during.length).toBeGreaterThan(1);
    expect(written).toEqual({ entities: [{ name: "big", entityType: "t", observations: [big] }] });
    const read = await call<{ entities: { observations: string[] }[] }>(a.client, "open_nodes", { names: ["big"] });
    expect(read.entities[0]!.observations[0] === big).toBe(true);
    await a.close();
    await b.close();
  }, 120_000);

  test("sizes are capped with a tool error naming the limit", async () => {
    await using sandbox = new Sandbox(base);
    const s = await openSession(sandbox, sandbox.project("p"));
    const longName = await s.client.callTool({
      name: "create_entities",
      arguments: { entities: [{ name: "n".repeat(5000), entityType: "t", observations: [] }] },
    });
    expect(longName.isError).toBe(true);
    expect(JSON.stringify(longName.content)).toContain("entities[0].name is 4.9 KiB; the limit for a name, type or query is 4 KiB");
    const huge = await s.client.callTool({
      name: "add_observations",
      arguments: { observations: [{ entityName: "x", contents: ["y".repeat(9 * 1024 * 1024)] }] },
    });
    expect(huge.isError).toBe(true);
    expect(JSON.stringify(huge.content)).toContain("observations[0].contents[0] is 9 MiB; the limit for one observation is 8 MiB");
    // Nothing was written, and the session carries on.
    expect((await call<{ entities: unknown[] }>(s.client, "read_graph")).entities).toEqual([]);
    await s.close();
  }, 90_000);
});
