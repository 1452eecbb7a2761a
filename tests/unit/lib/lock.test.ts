import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acquireLock, CORRUPT_GRACE_MS, listLocks, readLock, type LockInfo } from "../../../src/lib/lock.ts";
import { startTicks } from "../../../src/lib/proc.ts";
import { liveLock } from "../../../src/proxy/index.ts";

const originalHome = process.env.MSM_HOME;
afterAll(() => {
  process.env.MSM_HOME = originalHome;
});

function freshHome(): string {
  const home = join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "lock-")), "msm");
  mkdirSync(home, { recursive: true });
  process.env.MSM_HOME = home;
  return home;
}

const info = (pid = process.pid, port = 0): LockInfo => ({ pid, port, transport: "streamable-http", startedAt: new Date().toISOString(), version: "test" });

/** A pid that is certainly dead: a child we started and waited for. */
function deadPid(): number {
  const child = Bun.spawnSync(["true"]);
  return child.pid;
}

test("exclusive: the second taker gets the first's info, release frees it", () => {
  const home = freshHome();
  const first = acquireLock("memory", info());
  expect("release" in first).toBe(true);
  const second = acquireLock("memory", info(process.pid, 9));
  expect(second).toEqual({ existing: expect.objectContaining({ pid: process.pid, port: 0 }) });
  if ("release" in first) first.release();
  expect(existsSync(join(home, "memory.lock"))).toBe(false);
});

test("update rewrites the lock whole", () => {
  const home = freshHome();
  const lock = acquireLock("memory", info());
  if (!("update" in lock)) throw new Error("expected to own the lock");
  lock.update(info(process.pid, 4321));
  expect(JSON.parse(readFileSync(join(home, "memory.lock"), "utf8")).port).toBe(4321);
  expect(readLock("memory")?.port).toBe(4321);
  lock.release();
});

test("a lock naming a dead pid is discarded and taken over", () => {
  const home = freshHome();
  writeFileSync(join(home, "memory.lock"), JSON.stringify(info(deadPid(), 1234)));
  expect(readLock("memory")).toBeUndefined();
  const lock = acquireLock("memory", info());
  expect("release" in lock).toBe(true);
  expect(JSON.parse(readFileSync(join(home, "memory.lock"), "utf8")).pid).toBe(process.pid);
});

test("a corrupt lock file is discarded, not repaired", () => {
  const home = freshHome();
  writeFileSync(join(home, "memory.lock"), "{ not json");
  // Older than a live holder's heal interval: nobody is going to repair it.
  const old = (Date.now() - CORRUPT_GRACE_MS - 1_000) / 1000;
  utimesSync(join(home, "memory.lock"), old, old);
  expect(listLocks()).toEqual([{ name: "memory", info: undefined, alive: false }]);
  const lock = acquireLock("memory", info());
  expect("release" in lock).toBe(true);
  writeFileSync(join(home, "other.lock"), JSON.stringify({ pid: "x" }));
  expect(readLock("other")).toBeUndefined();
});

test("release never deletes a successor's lock", () => {
  const home = freshHome();
  const mine = acquireLock("memory", info());
  if (!("release" in mine)) throw new Error("expected to own the lock");
  // Someone else's lock replaced ours (we were presumed dead).
  writeFileSync(join(home, "memory.lock"), JSON.stringify(info(1)));
  mine.release();
  expect(existsSync(join(home, "memory.lock"))).toBe(true);
});

test("processes racing for one lock: exactly one wins", async () => {
  const home = freshHome();
  // Each racer holds whatever it got until every racer has answered (its stdin closes): one that exited early would
  // leave a dead pid in the lock, and a slow starter on a busy machine would then rightly take it over.
  const script = `
    import { acquireLock } from ${JSON.stringify(join(import.meta.dir, "../../../src/lib/lock.ts"))};
    const r = acquireLock("race", { pid: process.pid, port: 0, transport: "http", startedAt: "now", version: "t" });
    process.stdout.write("release" in r ? "won\\n" : "lost\\n");
    for await (const _ of Bun.stdin.stream()) {}`;
  const runs = Array.from({ length: 8 }, () =>
    Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, MSM_HOME: home }, stdin: "pipe", stdout: "pipe" }),
  );
  try {
    const results = await Promise.all(
      runs.map(async (p) => {
        const reader = p.stdout.getReader();
        let text = "";
        while (!text.includes("\n")) {
          const chunk = await reader.read();
          if (chunk.done) break;
          text += new TextDecoder().decode(chunk.value);
        }
        return text.trim();
      }),
    );
    expect(results.filter((r) => r === "won").length).toBe(1);
    expect(results.filter((r) => r === "lost").length).toBe(7);
  } finally {
    for (const p of runs) {
      p.stdin.end();
      p.kill();
    }
  }
}, 30_000);

test("one field says a daemon wants msm's token; an older relay's `own: true` still counts (upgrade path)", () => {
  const home = freshHome();
  const write = (name: string, extra: object) =>
    writeFileSync(join(home, `${name}.lock`), JSON.stringify({ ...info(process.pid, 4000), path: "/mcp", pidStart: startTicks(process.pid), ...extra }));
  write("host", { auth: "bearer" });
  write("old-relay", { own: true });
  write("external", {});
  for (const name of ["host", "old-relay"]) {
    expect(readLock(name)?.auth).toBe("bearer");
    expect(liveLock(name)?.auth).toBe("bearer");
  }
  expect(readLock("old-relay")).not.toHaveProperty("own");
  expect(readLock("external")?.auth).toBeUndefined();
  expect(liveLock("external")?.auth).toBeUndefined();
}, 10_000);
