// The lock-file field list lives once (lib/contracts/lock-file.ts). The zod reader is built from it; the proxy's
// schema-free fast read (liveLock) is checked against it here, field by field, so the two readers cannot drift.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCK_FIELDS, TRANSPORTS, type LockField } from "../../../src/lib/contracts/lock-file.ts";
import { LockSchema, readLock } from "../../../src/lib/lock.ts";
import { commandLine, startTicks } from "../../../src/lib/proc.ts";
import { liveLock } from "../../../src/proxy/index.ts";

const originalHome = process.env.MSM_HOME;
afterAll(() => {
  process.env.MSM_HOME = originalHome;
});

const home = join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "lock-file-")), "msm");
mkdirSync(home, { recursive: true });
process.env.MSM_HOME = home;

/** A complete, valid lock of this very process (so both readers' liveness checks pass). */
function full(): Record<string, unknown> {
  return {
    pid: process.pid,
    port: 4100,
    transport: "streamable-http",
    startedAt: new Date().toISOString(),
    version: "test",
    path: "/mcp",
    auth: "bearer",
    pidStart: startTicks(process.pid),
    group: false,
    command: commandLine(process.pid),
    kind: "host",
    wire: "unix:/tmp/msm/t.sock",
  };
}

let n = 0;
function write(lock: Record<string, unknown>): string {
  const name = `t${n++}`;
  writeFileSync(join(home, `${name}.lock`), JSON.stringify(lock));
  return name;
}

/** A value of the wrong JSON type for `field`. */
const wrongType = (field: LockField): unknown => (field.type === "string" ? 7 : "7");

test("the zod schema checks exactly the table's fields", () => {
  const shape = (LockSchema as unknown as { def: { shape: Record<string, unknown> } }).def.shape;
  expect(Object.keys(shape).sort()).toEqual(Object.keys(LOCK_FIELDS).sort());
});

test("a complete lock: both readers accept it and agree on every field the proxy reads", () => {
  const lock = full();
  expect(Object.keys(lock).sort()).toEqual(Object.keys(LOCK_FIELDS).sort());
  const name = write(lock);
  const checked = readLock(name);
  const lean = liveLock(name);
  expect(checked).toBeDefined();
  expect(lean).toBeDefined();
  for (const [key, value] of Object.entries(lean!)) {
    // Every field the proxy returns is one of the table's, of the table's type, with the checked reader's value.
    expect(Object.keys(LOCK_FIELDS)).toContain(key);
    expect(value as unknown).toEqual((checked as Record<string, unknown>)[key] as never);
    const field = LOCK_FIELDS[key as keyof typeof LOCK_FIELDS] as LockField;
    expect(typeof value).toBe(field.type === "integer" ? "number" : field.type);
  }
});

test("each field of the wrong type: the checked reader refuses the lock, the proxy never returns that value", () => {
  for (const [key, field] of Object.entries(LOCK_FIELDS) as [string, LockField][]) {
    const name = write({ ...full(), [key]: wrongType(field) });
    expect(readLock(name)).toBeUndefined();
    const lean = liveLock(name) as Record<string, unknown> | undefined;
    if (lean && lean[key] !== undefined) throw new Error(`liveLock returned ${key} = ${JSON.stringify(lean[key])} from a lock the schema refuses`);
  }
});

test("each required field missing: the checked reader refuses the lock, the proxy too when it reads that field", () => {
  const read = ["pid", "port", "transport", "path", "version", "auth"];
  for (const [key, field] of Object.entries(LOCK_FIELDS) as [string, LockField][]) {
    if (!field.required) continue;
    const lock = full();
    delete lock[key];
    const name = write(lock);
    expect(readLock(name)).toBeUndefined();
    if (read.includes(key) && key !== "version") expect(liveLock(name)).toBeUndefined();
  }
});

/**
 * Limits the proxy's fast read does not check yet: it then connects to a port that cannot exist, fails, and takes the
 * full (checked) path, so a session still works. Listed so closing the gap in proxy/index.ts shows up here.
 */
const LEAN_UNCHECKED = new Set(["port:70000"]);

test("a value outside the table's limits: both readers refuse it", () => {
  for (const [key, value] of [
    ["port", 70_000],
    ["port", -1],
    ["port", 0],
    ["transport", "websocket"],
    ["pid", 1.5],
  ] as const) {
    const name = write({ ...full(), [key]: value });
    if (!(key === "port" && value === 0)) expect(readLock(name)).toBeUndefined();
    if (LEAN_UNCHECKED.has(`${key}:${value}`)) expect(liveLock(name)).toBeDefined();
    else expect(liveLock(name)).toBeUndefined();
  }
  expect(LOCK_FIELDS.transport.oneOf).toEqual(TRANSPORTS);
});
