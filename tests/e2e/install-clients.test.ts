/**
 * What msm writes, read back by the editors' own CLIs (`claude`, `codex`, installed from npm as devDependencies):
 * they must list msm's entries with this binary's path, and `claude mcp list` really starts the proxy and connects.
 */
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSM, Sandbox } from "../helpers/sandbox.ts";
import { run } from "../helpers/editors.ts";

const BIN = resolve(import.meta.dir, "../../node_modules/.bin");
const FIXTURES = join(import.meta.dir, "../fixtures/editors");

/** The client CLI with HOME in the sandbox, no update checks or telemetry (the machine has no network anyway). */
async function cli(sandbox: Sandbox, tool: "claude" | "codex", args: string[], cwd: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = { ...sandbox.env, DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", NO_COLOR: "1", ...extra };
  for (const key of ["XDG_CONFIG_HOME", "CODEX_HOME", "CLAUDE_CONFIG_DIR", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"]) delete env[key];
  const child = Bun.spawn([join(BIN, tool), ...args], { env, cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("the claude CLI reads what msm wrote", () => {
  test("claude mcp list/get: msm's user entry connects, imported servers point at msm, uninstall gives them back", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const file = join(sandbox.home, ".claude.json");
    cpSync(join(FIXTURES, "claude-code.user.json"), file);
    const original = JSON.parse(readFileSync(file, "utf8"));
    expect(run(sandbox, ["install", "claude-code"], project).code).toBe(0);
    const list = await cli(sandbox, "claude", ["mcp", "list"], project);
    expect(list.code).toBe(0);
    // Claude Code starts `msm proxy --target memory` and initializes it: the whole chain works from its config.
    expect(list.stdout).toMatch(new RegExp(`memory: ${MSM} proxy --target memory - ✔ Connected`));
    expect(list.stdout).toContain("sqlite: /nonexistent/uvx mcp-server-sqlite");
    expect(list.stdout).toContain("sentry: http://127.0.0.1:9/mcp (HTTP)");

    expect(run(sandbox, ["import", "claude-code"], project).code).toBe(0);
    // `get` also tries to connect: sqlite's command does not exist, so Claude Code would sit out its 30 s connect
    // timeout (MCP_TIMEOUT) before printing what this reads. The entry is the point here, not the connection.
    const get = await cli(sandbox, "claude", ["mcp", "get", "sqlite"], project, { MCP_TIMEOUT: "2000" });
    expect(get.stdout).toContain(`Command: ${MSM}`);
    expect(get.stdout).toContain("Args: proxy --target sqlite");
    expect(get.stdout).toContain("User config");

    // Claude Code rewrote ~/.claude.json meanwhile (it always does); uninstall still finds and restores its entries.
    expect(run(sandbox, ["uninstall", "claude-code"], project).code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).mcpServers).toEqual(original.mcpServers);
    const after = await cli(sandbox, "claude", ["mcp", "get", "sqlite"], project);
    expect(after.stdout).toContain("Command: /nonexistent/uvx");
  }, 180_000);

  test("claude mcp get: a project .mcp.json entry (--command msm, non-default MSM_HOME), then the local scope", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const home = join(sandbox.root, "state");
    mkdirSync(home, { mode: 0o700 });
    expect(run(sandbox, ["install", "claude-code", "--scope", "project", "--command", "msm"], project, { MSM_HOME: home }).code).toBe(0);
    const get = await cli(sandbox, "claude", ["mcp", "get", "memory"], project);
    expect(get.stdout).toContain("Project config");
    expect(get.stdout).toContain("Command: msm");
    expect(get.stdout).toContain("Args: proxy --target memory");
    expect(get.stdout).toContain(`MSM_HOME=${home}`);

    // Local scope (this folder, inside ~/.claude.json) wins over the project's .mcp.json, as Claude Code documents.
    expect(run(sandbox, ["install", "claude-code", "--scope", "local"], project, { MSM_HOME: home }).code).toBe(0);
    const local = await cli(sandbox, "claude", ["mcp", "get", "memory"], project);
    expect(local.stdout).toContain("Local config");
    expect(local.stdout).toContain(`Command: ${MSM}`);
  }, 180_000);
});

describe("the codex CLI reads what msm wrote", () => {
  interface CodexServer {
    name: string;
    transport: { type: string; command?: string; args?: string[]; env?: Record<string, string> | null; url?: string };
    startup_timeout_sec: number | null;
  }

  async function codexList(sandbox: Sandbox, cwd: string): Promise<Record<string, CodexServer>> {
    const result = await cli(sandbox, "codex", ["mcp", "list", "--json"], cwd);
    expect(result.code).toBe(0);
    return Object.fromEntries((JSON.parse(result.stdout) as CodexServer[]).map((s) => [s.name, s]));
  }

  test("codex mcp list: user and trusted-project entries, imported servers, MSM_HOME in env; uninstall byte-identical", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const file = join(sandbox.home, ".codex/config.toml");
    mkdirSync(join(sandbox.home, ".codex"));
    const original = readFileSync(join(FIXTURES, "codex.user.toml"), "utf8") + `\n[projects."${project}"]\ntrust_level = "trusted"\n`;
    writeFileSync(file, original);
    const home = join(sandbox.root, "state");
    mkdirSync(home, { mode: 0o700 });
    const extra = { MSM_HOME: home };
    cpSync(join(sandbox.msmHome, "config.json"), join(home, "config.json"));
    expect(run(sandbox, ["import", "codex"], project, extra).code).toBe(0);
    expect(run(sandbox, ["install", "codex"], project, extra).code).toBe(0);
    const before = await codexList(sandbox, project);
    expect(before.memory!.transport).toMatchObject({ type: "stdio", command: MSM, args: ["proxy", "--target", "memory"], env: { MSM_HOME: home } });
    expect(before.docs!.transport).toMatchObject({ type: "stdio", command: MSM, args: ["proxy", "--target", "docs"], env: { MSM_HOME: home } });
    expect(before.docs!.startup_timeout_sec).toBe(20);
    expect(before.figma!.transport).toMatchObject({ url: "http://127.0.0.1:9/mcp" });

    expect(run(sandbox, ["uninstall", "codex"], project, extra).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(original);
    const after = await codexList(sandbox, project);
    expect(after.docs!.transport).toMatchObject({ command: "/nonexistent/npx", env: { DOCS_LANGUAGE: "en" }, env_vars: ["DOCS_TOKEN"] });
    expect(after.memory).toBeUndefined();

    // A trusted project's own .codex/config.toml is read too.
    expect(run(sandbox, ["install", "codex", "--scope", "project", "--target", "memory"], project, extra).code).toBe(0);
    expect((await codexList(sandbox, project)).memory!.transport).toMatchObject({ command: MSM, args: ["proxy", "--target", "memory"] });
  }, 180_000);
});
