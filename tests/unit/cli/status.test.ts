// `msm status` fits 80 columns whatever the targets look like (issue 9, item 11): long names, big numbers, a failed
// target with long log lines, with and without colour.
import { describe, expect, test } from "bun:test";
import { renderStatus, type StatusReport } from "../../../src/cli/commands/status.ts";
import type { TargetStatus } from "../../../src/lib/contracts/supervisor-api.ts";

const target = (name: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({
  name,
  kind: "external",
  state: "running",
  pid: 4_194_304,
  port: 65_535,
  transport: "streamable-http",
  url: null,
  uptimeSeconds: 86_400 * 12,
  restarts: 12,
  sessions: 1_234_567,
  connections: 3,
  requests: 987_654_321,
  rssBytes: 12 * 1024 ** 3,
  idleMinutes: 30,
  note: null,
  lastLog: [],
  version: "0.1.0-dev+abcdef",
  ...extra,
});

const report: StatusReport = {
  problems: [],
  home: "/home/someone-with-a-long-name/.config/somewhere/deeper/.mcp-session-manager",
  supervisor: { pid: 4_194_303, port: 3199, version: "0.1.0-dev+abcdef", startedAt: "", uptimeSeconds: 86_400 * 400, home: "" },
  targets: [
    target("memory", { kind: "builtin" }),
    target("code-index-for-the-monorepo-with-a-long-name"),
    target("sequential-thinking", {
      state: "failed",
      pid: null,
      port: null,
      note: "crashed 6 times in a row; last: exited with code 1 (Error: listen EADDRINUSE: address already in use 127.0.0.1:3101)",
      lastLog: ["x".repeat(300), 'Traceback (most recent call last): File "/very/long/path/to/site-packages/server.py", line 12'],
    }),
  ],
};

const ANSI = /\x1b\[[0-9;]*m/g;

describe("msm status fits 80 columns", () => {
  for (const color of [false, true]) {
    test(`with colour ${color ? "on" : "off"}`, () => {
      const text = renderStatus(report, color);
      expect(text.includes("\x1b[")).toBe(color);
      for (const line of text.split("\n")) expect({ line, fits: line.replace(ANSI, "").length <= 80 }).toEqual({ line, fits: true });
      // The essentials survive: every target, its state, pid and port.
      const plain = text.replace(ANSI, "");
      expect(plain).toMatch(/TARGET\s+STATE\s+PID\s+PORT/);
      for (const t of report.targets) expect(plain).toContain(t.name.slice(0, 12));
    }, 10_000);
  }

  test("with the supervisor down, and no supervisor line longer than 80 either", () => {
    const text = renderStatus({ ...report, supervisor: null }, false);
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(text).toContain("supervisor not running");
  }, 10_000);
});

describe("msm status and hosted children", () => {
  test("a project with several children says how their sessions differ; children whose sessions take turns say so", () => {
    const child = (variant: string, takesTurns: boolean) => ({
      project: "/home/me/code/app",
      share: "project" as const,
      state: "running" as const,
      pid: 10,
      uptimeSeconds: 5,
      restarts: 0,
      sessions: 1,
      rssBytes: 1024 * 1024,
      note: null,
      lastStderr: [],
      variant,
      takesTurns,
    });
    const hosted = target("fs", {
      kind: "hosted",
      children: [child("protocol 2025-11-25; client elicitation, roots", true), child("protocol 2024-11-05; client without capabilities", false)],
    });
    const text = renderStatus({ ...report, targets: [hosted] }, false);
    // Read as running text: the lines wrap at 80 columns.
    expect(text.replace(/\s+/g, " ")).toContain("protocol 2025-11-25; client elicitation, roots; its sessions take turns");
    expect(text).toContain("protocol 2024-11-05; client without capabilities");
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  }, 10_000);
});
