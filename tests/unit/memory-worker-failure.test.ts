// A database's worker thread that fails must fail its calls, not leave them waiting: the daemon would otherwise hang
// every later call on that database until the client gave up (60 s), on every platform. The next call starts a new
// worker.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { Databases, requestProject } from "../../src/memory/databases.ts";
import { openStoreWorker } from "../../src/memory/store-client.ts";

const fixture = (name: string) => new URL(`../fixtures/workers/${name}`, import.meta.url).href;

function projectDir(): string {
  const dir = realpathSync(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "project-")));
  mkdirSync(join(dir, ".git"));
  return dir;
}

/** Settles within `ms` or fails the test naming what hung. */
async function settled<T>(promise: Promise<T>, ms: number, what: string): Promise<{ value?: T; error?: Error }> {
  const timeout = Bun.sleep(ms).then(() => ({ error: new Error(`${what} still waiting after ${ms} ms`), hung: true }));
  const result = await Promise.race([promise.then((value) => ({ value }), (error: Error) => ({ error })), timeout]);
  if ("hung" in result) throw result.error;
  return result;
}

describe("a failed store worker", () => {
  test("whose code does not load fails the first call and every later one at once", async () => {
    const store = openStoreWorker(join(projectDir(), "memory.db"), { url: fixture("throws-on-load.ts") });
    try {
      const first = await settled(store.readGraph(), 10_000, "the first call");
      expect(first.error?.message).toContain("failed");
      expect(store.failed).toBe(true);
      const started = performance.now();
      const later = await settled(store.createEntities([{ name: "a", entityType: "t", observations: [] }]), 1_000, "a later call");
      expect(later.error?.message).toContain("the next call starts a new one");
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await store.close();
    }
  }, 30_000);

  test("that exits while calls wait fails each of them, then every later call", async () => {
    const store = openStoreWorker(join(projectDir(), "memory.db"), { url: fixture("exits-on-read.ts") });
    try {
      expect((await settled(store.searchNodes("x") as Promise<unknown>, 10_000, "a call before the crash")).value).toEqual([]);
      const waiting: Promise<unknown>[] = [store.readGraph(), store.stats(), store.openNodes(["a"])];
      const results = await Promise.all(waiting.map((p, i) => settled(p, 10_000, `waiting call ${i}`)));
      for (const r of results) expect(r.error?.message).toMatch(/worker for .* failed \(it exited\)/);
      expect((await settled(store.readGraph(), 1_000, "a later call")).error?.message).toContain("failed");
    } finally {
      await store.close();
    }
  }, 30_000);

  test("is replaced by the daemon's next call on that database, which then works and keeps what was written", async () => {
    const dir = projectDir();
    mkdirSync(join(dir, ".claude"), { mode: 0o700 });
    const written = openStoreWorker(join(dir, ".claude", "memory.db"));
    await written.createEntities([{ name: "kept", entityType: "t", observations: [] }]);
    await written.close();

    const lines: string[] = [];
    let opened = 0;
    // The daemon's first worker for the file dies on its first read; the second is the real one.
    const databases = new Databases({ info: (m) => lines.push(m), warn: (m) => lines.push(m) }, undefined, (file, options) =>
      openStoreWorker(file, { ...options, url: ++opened === 1 ? fixture("exits-on-read.ts") : undefined }),
    );
    const inProject = <T>(fn: () => Promise<T>) => requestProject.run(dir, fn);
    try {
      const failed = await settled(inProject(() => databases.current().readGraph()), 10_000, "the call on the dying worker");
      expect(failed.error?.message).toContain("failed");
      const graph = await settled(inProject(() => databases.current().readGraph()), 10_000, "the call after the failure");
      expect(graph.value?.entities.map((e) => e.name)).toEqual(["kept"]);
      expect(lines.some((l) => l.includes("its worker failed; starting a new one"))).toBe(true);
      expect(opened).toBe(2);
    } finally {
      await databases.closeAll();
    }
  }, 30_000);
});
