import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../helpers/editors.ts";
import { MSM, Sandbox, kill, openSession } from "../helpers/sandbox.ts";
import { startTicks } from "../../src/lib/proc.ts";

interface Report {
  ok: boolean;
  version: string;
  checks: { name: string; status: "ok" | "warn" | "fail"; detail: string; fix?: string }[];
}

const check = (report: Report, name: string) => report.checks.find((c) => c.name === name);

describe("msm doctor", () => {
  test("all pass with msm installed and its daemons running: exit 0, --json", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    chmodSync(join(sandbox.msmHome, "config.json"), 0o600);
    mkdirSync(join(sandbox.home, ".codex"));
    expect(run(sandbox, ["install", "codex"], project).code).toBe(0);
    const session = await openSession(sandbox, project);
    const result = run(sandbox, ["doctor", "--json"], project);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(result.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(check(report, "codex (user)")!.detail).toContain("1 msm entry, binary");
    expect(check(report, "supervisor")!.detail).toMatch(/^pid \d+ on 127\.0\.0\.1:\d+/);
    expect(check(report, "target memory")!.detail).toContain("answers");
    expect(check(report, "locks")!.status).toBe("ok");
    const text = run(sandbox, ["doctor"], project);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("✓ codex (user)");
    expect(text.stdout).toContain("All checks passed.");
    await session.close();
  }, 60_000);

  test("each problem is named with its fix, and the exit code is 1", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const sleeper = Bun.spawn(["sleep", "60"], { stdin: "ignore", stdout: "ignore" });
    try {
      const project = sandbox.project("app");
      chmodSync(join(sandbox.msmHome, "config.json"), 0o666);
      // An entry whose binary is gone, and one whose binary is another msm version.
      mkdirSync(join(sandbox.root, "old"));
      const old = join(sandbox.root, "old", "msm");
      writeFileSync(old, "#!/bin/sh\necho 0.0.9\n", { mode: 0o755 });
      mkdirSync(join(sandbox.home, ".cursor"));
      writeFileSync(
        join(sandbox.home, ".cursor/mcp.json"),
        JSON.stringify({
          mcpServers: {
            memory: { command: "/nonexistent/msm", args: ["proxy", "--target", "memory"] },
            old: { command: old, args: ["proxy", "--target", "memory"] },
          },
        }),
      );
      // A lock whose process is gone, and a live daemon of another version (a real process, a lock naming it).
      const dead = Bun.spawn(["true"]);
      await dead.exited;
      writeFileSync(
        join(sandbox.msmHome, "ghost.lock"),
        JSON.stringify({ pid: dead.pid, port: 1, transport: "streamable-http", startedAt: new Date().toISOString(), version: "0.1.0" }),
      );
      writeFileSync(
        join(sandbox.msmHome, "memory.lock"),
        JSON.stringify({
          pid: sleeper.pid,
          pidStart: startTicks(sleeper.pid),
          port: 1,
          transport: "streamable-http",
          startedAt: new Date().toISOString(),
          version: "0.0.1",
        }),
      );
      const result = run(sandbox, ["doctor", "--json"], project);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as Report;
      expect(report.ok).toBe(false);
      expect(check(report, "config.json")).toMatchObject({ status: "fail", fix: expect.stringContaining("chmod 600") });
      const cursor = check(report, "cursor (user)")!;
      expect(cursor.status).toBe("fail");
      expect(cursor.detail).toContain("/nonexistent/msm is missing");
      expect(cursor.detail).toContain(`${old} is version 0.0.9`);
      expect(cursor.fix).toContain("msm install cursor");
      expect(check(report, "locks")).toMatchObject({ status: "fail", detail: expect.stringContaining("ghost.lock") });
      expect(check(report, "target memory")).toMatchObject({ status: "fail", detail: expect.stringContaining("runs msm 0.0.1"), fix: "msm restart memory" });
      const text = run(sandbox, ["doctor"], project);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain("✗ cursor (user)");
      expect(text.stdout).toContain("    fix: msm install cursor");
      expect(run(sandbox, ["doctor", "--verbose"], project).code).toBe(2);
    } finally {
      kill(sleeper.pid, "SIGKILL");
    }
  }, 60_000);

  test("generate-config --client prints each editor's own format; unknown clients and flags are errors", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const vscode = run(sandbox, ["generate-config", "--client", "vscode"], project);
    expect(vscode.code).toBe(0);
    expect(JSON.parse(vscode.stdout)).toEqual({ servers: { memory: { type: "stdio", command: MSM, args: ["proxy", "--target", "memory"] } } });
    const codex = run(sandbox, ["generate-config", "--client", "codex"], project);
    expect(Bun.TOML.parse(codex.stdout)).toEqual({ mcp_servers: { memory: { command: MSM, args: ["proxy", "--target", "memory"] } } });
    const home = join(sandbox.root, "state");
    mkdirSync(home, { mode: 0o700 });
    const claude = run(sandbox, ["generate-config", "--client", "claude-code"], project, { MSM_HOME: home });
    expect(claude.stdout).toContain(`claude mcp add --scope user --env MSM_HOME=${home} memory -- ${MSM} proxy --target memory`);
    expect(JSON.parse(claude.stdout.slice(0, claude.stdout.indexOf("\n\n")))).toEqual({
      mcpServers: { memory: { type: "stdio", command: MSM, args: ["proxy", "--target", "memory"], env: { MSM_HOME: home } } },
    });
    for (const args of [
      ["generate-config", "--client", "emacs"],
      ["generate-config", "--format", "vscode"],
      ["generate-config", "vscode"],
    ]) {
      const bad = run(sandbox, args, project);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toContain('Run "msm generate-config --help" for usage.');
    }
  }, 60_000);
});
