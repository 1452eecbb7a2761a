import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { acquireLock, clearIfStale, listLocks, ownerAlive, readLock, type LockInfo } from "../../src/lib/lock.ts";
import { ensureHome, msmHome, paths } from "../../src/lib/paths.ts";
import { isAlive, startTicks } from "../../src/lib/proc.ts";

const info = (pid: number, extra: Partial<LockInfo> = {}): LockInfo => ({
  pid,
  port: 4000,
  transport: "streamable-http",
  startedAt: new Date().toISOString(),
  version: "test",
  ...extra,
});

async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

let n = 0;
const fresh = () => `unit-${process.pid}-${n++}`;

describe("lock files", () => {
  test("exclusive: the second taker sees the first; release removes only its own lock", () => {
    ensureHome();
    const name = fresh();
    const first = acquireLock(name, info(process.pid));
    expect("release" in first).toBe(true);
    const second = acquireLock(name, info(process.pid + 1));
    expect("existing" in second && second.existing.pid).toBe(process.pid);
    // The lock records when its owner started, so a recycled pid can be told apart.
    expect(readLock(name)?.pidStart).toBe(startTicks(process.pid));
    if ("release" in first) first.release();
    expect(existsSync(paths.lock(name))).toBe(false);
  });

  test("a lock naming a dead pid is stale: readLock ignores it, acquireLock takes over, no *.stale file left", async () => {
    ensureHome();
    const name = fresh();
    writeFileSync(paths.lock(name), JSON.stringify(info(await deadPid())));
    expect(readLock(name)).toBeUndefined();
    const taken = acquireLock(name, info(process.pid));
    expect("release" in taken).toBe(true);
    expect(JSON.parse(readFileSync(paths.lock(name), "utf8")).pid).toBe(process.pid);
    expect(readdirSync(msmHome()).filter((f) => f.includes(".stale"))).toEqual([]);
    if ("release" in taken) taken.release();
  });

  test("a lock whose pid now belongs to another program (start time differs) is stale", () => {
    ensureHome();
    const name = fresh();
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      writeFileSync(paths.lock(name), JSON.stringify(info(sleeper.pid, { pidStart: "1" })));
      expect(ownerAlive(info(sleeper.pid, { pidStart: "1" }))).toBe(false);
      expect(ownerAlive(info(sleeper.pid, { pidStart: startTicks(sleeper.pid) }))).toBe(true);
      expect(readLock(name)).toBeUndefined();
      clearIfStale(name);
      expect(existsSync(paths.lock(name))).toBe(false);
      expect(isAlive(sleeper.pid)).toBe(true);
    } finally {
      sleeper.kill();
    }
  });

  test("a corrupt lock is discarded, not repaired", () => {
    ensureHome();
    const name = fresh();
    writeFileSync(paths.lock(name), "{ half a lock");
    expect(listLocks().find((l) => l.name === name)).toMatchObject({ info: undefined, alive: false });
    const taken = acquireLock(name, info(process.pid));
    expect("release" in taken).toBe(true);
    if ("release" in taken) taken.release();
  });

  test("clearIfStale leaves a live lock alone", () => {
    ensureHome();
    const name = fresh();
    const taken = acquireLock(name, info(process.pid));
    clearIfStale(name);
    expect(readLock(name)?.pid).toBe(process.pid);
    if ("release" in taken) taken.release();
  });
});

describe("liveness", () => {
  test("a zombie is dead (a reparented daemon waits as a zombie until PID 1 reaps it)", async () => {
    // `sleep 0` exits at once; its parent exec's into `sleep 5`, which never reaps it: a zombie until then.
    const parent = Bun.spawn(["sh", "-c", "sleep 0 & echo $!; exec sleep 60"], { stdout: "pipe" });
    try {
      const reader = parent.stdout.getReader();
      const zombie = Number(new TextDecoder().decode((await reader.read()).value).trim());
      const state = () => {
        const stat = readFileSync(`/proc/${zombie}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      };
      const deadline = Date.now() + 20_000;
      while (state() !== "Z" && Date.now() < deadline) await Bun.sleep(10);
      expect(state()).toBe("Z");
      expect(isAlive(zombie)).toBe(false);
      expect(isAlive(parent.pid)).toBe(true);
    } finally {
      parent.kill();
    }
  });
});
