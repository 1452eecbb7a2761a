import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { acquireLock, clearIfStale, CORRUPT_GRACE_MS, HEAL_INTERVAL_MS, listLocks, ownerAlive, readLock, type LockInfo } from "../../src/lib/lock.ts";
import { ensureHome, msmHome, paths } from "../../src/lib/paths.ts";
import { commandLine, isAlive, startTicks } from "../../src/lib/proc.ts";

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

  test("a corrupt lock is discarded, not repaired, once older than the holder's heal interval", () => {
    ensureHome();
    const name = fresh();
    writeFileSync(paths.lock(name), "{ half a lock");
    const old = (Date.now() - CORRUPT_GRACE_MS - 1_000) / 1000;
    utimesSync(paths.lock(name), old, old);
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

describe("locks are never trusted blindly (issue 9, item 10)", () => {
  test("a hand-made lock naming a live process (no recorded start time) is not that process's", () => {
    ensureHome();
    const name = fresh();
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      writeFileSync(paths.lock(name), JSON.stringify(info(sleeper.pid)));
      expect(readLock(name)).toBeUndefined();
      expect(listLocks().find((l) => l.name === name)?.alive).toBe(false);
    } finally {
      sleeper.kill();
    }
  });

  test("a recorded command line must match too", async () => {
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      // Until the child has exec'd, its command line is still being set up.
      await waitUntil(() => commandLine(sleeper.pid) === "sleep 30", 5_000);
      const pidStart = startTicks(sleeper.pid);
      expect(ownerAlive(info(sleeper.pid, { pidStart, command: "sleep 30" }))).toBe(true);
      expect(ownerAlive(info(sleeper.pid, { pidStart, command: "/usr/local/bin/msm memory --detached" }))).toBe(false);
      // Locks written before command lines were recorded still count by their start time.
      expect(ownerAlive(info(sleeper.pid, { pidStart }))).toBe(true);
    } finally {
      sleeper.kill();
    }
  });

  test("a lock this process holds records its command line and is healed when corrupted or removed", async () => {
    ensureHome();
    const name = fresh();
    const taken = acquireLock(name, info(process.pid));
    if (!("release" in taken)) throw new Error("expected to own the lock");
    try {
      expect(readLock(name)?.command).toBe(commandLine(process.pid));
      writeFileSync(paths.lock(name), "{ torn");
      // A fresh corrupt lock is not anyone's to discard: clearing it would let a second daemon start.
      clearIfStale(name);
      expect(existsSync(paths.lock(name))).toBe(true);
      await waitUntil(() => readLock(name)?.pid === process.pid, 5 * HEAL_INTERVAL_MS);
      rmSync(paths.lock(name));
      await waitUntil(() => readLock(name)?.pid === process.pid, 5 * HEAL_INTERVAL_MS);
    } finally {
      taken.release();
    }
    expect(existsSync(paths.lock(name))).toBe(false);
  }, 20_000);

  test("a taker waits for a freshly corrupt lock's holder to heal it instead of discarding it", async () => {
    ensureHome();
    const name = fresh();
    const script = `
      import { acquireLock } from ${JSON.stringify(import.meta.dir + "/../../src/lib/lock.ts")};
      const r = acquireLock(${JSON.stringify(name)}, { pid: process.pid, port: 1, transport: "http", startedAt: "now", version: "t" });
      process.stdout.write("release" in r ? "held\\n" : "busy\\n");
      await Bun.sleep(30_000);`;
    const holder = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, MSM_HOME: msmHome() }, stdout: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("held\n");
      writeFileSync(paths.lock(name), "{ torn");
      const second = acquireLock(name, info(process.pid));
      expect(second).toEqual({ existing: expect.objectContaining({ pid: holder.pid }) });
    } finally {
      holder.kill();
    }
  }, 20_000);

  test("a holder whose lock was taken by another live process is told it lost", async () => {
    ensureHome();
    const name = fresh();
    const sleeper = Bun.spawn(["sleep", "30"]);
    let lostTo: number | undefined;
    const taken = acquireLock(name, info(process.pid), paths.lock(name), { onLost: (owner) => (lostTo = owner.pid) });
    try {
      writeFileSync(paths.lock(name), JSON.stringify(info(sleeper.pid, { pidStart: startTicks(sleeper.pid) })));
      await waitUntil(() => lostTo !== undefined, 5 * HEAL_INTERVAL_MS);
      expect(lostTo).toBe(sleeper.pid);
    } finally {
      if ("release" in taken) taken.release();
      sleeper.kill();
    }
  }, 20_000);
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(25);
  }
}

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
