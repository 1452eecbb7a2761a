import { expect, test } from "bun:test";
import { readEnv } from "../../../src/lib/env.ts";

test("every MSM_* variable parses in one place; what does not parse counts as unset", () => {
  expect(readEnv({})).toEqual({
    home: undefined,
    projectDir: undefined,
    memoryDatabaseUrl: undefined,
    debug: false,
    discoveryLive: false,
    detached: false,
    backoffMs: undefined,
    eofGraceMs: undefined,
    loginWaitMs: undefined,
    sessionIdleMs: undefined,
    sessionQueueBytes: undefined,
    wire: undefined,
  });
  const parsed = readEnv({
    MSM_HOME: "/tmp/h",
    MSM_PROJECT_DIR: "/p",
    MSM_MEMORY_DATABASE_URL: " postgres://u@h/d ",
    MSM_DEBUG: "1",
    MSM_DETACHED: "1",
    MSM_BACKOFF_MS: "1,2,3",
    MSM_EOF_GRACE_MS: "0",
    MSM_LOGIN_WAIT_MS: "300",
    MSM_SESSION_IDLE_MS: "2500",
    MSM_SESSION_QUEUE_BYTES: "65536",
    MSM_DISCOVERY: "live",
    MSM_WIRE: "http",
  });
  expect(parsed).toEqual({
    home: "/tmp/h",
    projectDir: "/p",
    memoryDatabaseUrl: "postgres://u@h/d",
    debug: true,
    discoveryLive: true,
    detached: true,
    backoffMs: [1, 2, 3],
    eofGraceMs: 0,
    loginWaitMs: 300,
    sessionIdleMs: 2500,
    sessionQueueBytes: 65536,
    wire: "http",
  });
  const bad = readEnv({
    MSM_HOME: "  ",
    MSM_BACKOFF_MS: "1,-2",
    MSM_EOF_GRACE_MS: "soon",
    MSM_SESSION_IDLE_MS: "0",
    MSM_SESSION_QUEUE_BYTES: "-5",
    MSM_MEMORY_DATABASE_URL: " ",
  });
  expect([bad.home, bad.backoffMs, bad.eofGraceMs, bad.sessionIdleMs, bad.sessionQueueBytes, bad.memoryDatabaseUrl]).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});
