// One row builder for `msm status`, used by the supervisor's keepers and by the no-supervisor fallback.
import { expect, test } from "bun:test";
import { parseConfig, resolveTarget } from "../../../src/lib/config.ts";
import { targetRow } from "../../../src/supervisor/status.ts";

const config = parseConfig(
  JSON.stringify({ targets: { fs: { command: "npx", args: ["server-filesystem"] }, code: { command: "x", transport: "sse", port: 4000 } } }),
);
const lock = { pid: 42, port: 4000, transport: "sse" as const, startedAt: "2026-01-01T00:00:00Z", version: "1.0.0", group: true };

test("a running daemon's row: where it answers, since when, what it counts", () => {
  const now = Date.parse("2026-01-01T00:01:30Z");
  const row = targetRow(
    {
      name: "code",
      target: resolveTarget(config, "code"),
      state: "running",
      lock,
      since: Date.parse(lock.startedAt),
      restarts: 2,
      stats: { sessions: null, requests: null, connections: 3 },
      rssBytes: 1024,
      note: null,
    },
    now,
  );
  expect(row).toEqual({
    name: "code",
    kind: "external",
    state: "running",
    pid: 42,
    port: 4000,
    transport: "sse",
    url: "http://127.0.0.1:4000/sse",
    version: "1.0.0",
    uptimeSeconds: 90,
    restarts: 2,
    sessions: null,
    connections: 3,
    requests: null,
    rssBytes: 1024,
    idleMinutes: 0,
    note: null,
    lastLog: [],
  });
});

test("nothing running: no pid, port, counts or memory; a hosted target lists no children", () => {
  const row = targetRow({
    name: "fs",
    target: resolveTarget(config, "fs"),
    state: "stopped",
    stats: { sessions: 5, requests: 9, connections: 1 },
    rssBytes: 99,
  });
  expect(row).toMatchObject({
    kind: "hosted",
    state: "stopped",
    pid: null,
    port: null,
    transport: "streamable-http",
    url: null,
    uptimeSeconds: null,
    sessions: null,
    requests: null,
    connections: null,
    rssBytes: null,
    children: [],
  });
});

test("a broken config entry is a row of its own: invalid, the message as its note", () => {
  expect(targetRow({ name: "typo", state: "invalid", note: "targets.typo: …" })).toMatchObject({
    name: "typo",
    kind: "external",
    state: "invalid",
    transport: "-",
    note: "targets.typo: …",
    restarts: 0,
    idleMinutes: 0,
  });
});
