import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, openSession, requireBinary } from "../helpers/sandbox.ts";

function run(sandbox: Sandbox, args: string[], options: { cwd?: string; stdin?: string } = {}) {
  requireBinary();
  const result = Bun.spawnSync([MSM, ...args], {
    env: sandbox.env,
    cwd: options.cwd ?? sandbox.root,
    stdin: options.stdin ? Buffer.from(options.stdin) : "ignore",
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});

describe("the msm command line", () => {
  test("--version and --help", async () => {
    await using sandbox = new Sandbox();
    const version = run(sandbox, ["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = run(sandbox, ["--help"]);
    expect(help.code).toBe(0);
    for (const cmd of ["proxy", "supervisor", "memory", "status", "generate-config"]) expect(help.stdout).toContain(cmd);
  });

  test("proxy usage and errors go to stderr; stdout stays empty", async () => {
    await using sandbox = new Sandbox();
    const help = run(sandbox, ["proxy", "--help"]);
    expect(help.stdout).toBe("");
    expect(help.stderr).toContain("--target");
    const missing = run(sandbox, ["proxy"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toContain("target");
    const unknown = run(sandbox, ["proxy", "--target", "nope"], { stdin: INIT + "\n" });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain('Unknown target "nope"');
  });

  test("a mistake in config.json: the broken target's proxy names it and exits 1; memory runs on its defaults", async () => {
    await using sandbox = new Sandbox();
    writeFileSync(
      join(sandbox.msmHome, "config.json"),
      '{"supervisor": {"port": 0}, "targets": {"memory": {"port": 0, "colour": 1}, "code": {"command": "x", "colour": 1}}}',
    );
    const broken = run(sandbox, ["proxy", "--target", "code"], { stdin: INIT + "\n" });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toContain('unknown key "targets.code.colour"');
    const memory = run(sandbox, ["proxy", "--target", "memory"], { stdin: INIT + "\n" });
    expect(memory.code).toBe(0);
    expect(JSON.parse(memory.stdout.trim().split("\n")[0]!)).toMatchObject({ id: 1, result: { serverInfo: { name: "memory-server" } } });
    const status = run(sandbox, ["status"]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('unknown key "targets.memory.colour"');
    expect(status.stdout).toContain('unknown key "targets.code.colour"');
  }, 60_000);

  test("every stdout line of a proxy is one JSON-RPC message", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    const lines = [
      INIT,
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      "this is not json",
      '{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}',
    ];
    const result = run(sandbox, ["proxy", "--target", "memory"], { cwd: project, stdin: lines.join("\n") + "\n" });
    expect(result.code).toBe(0);
    const out = result.stdout.split("\n").filter((l) => l !== "");
    const messages = out.map((l) => JSON.parse(l));
    for (const m of messages) expect(m.jsonrpc).toBe("2.0");
    expect(messages.map((m) => m.id).sort()).toEqual([1, 2, 3, null].sort());
    expect(messages.find((m) => m.id === null).error.code).toBe(-32700);
    expect(messages.find((m) => m.id === 2).result.tools.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining([
        "create_entities",
        "create_relations",
        "add_observations",
        "delete_entities",
        "delete_observations",
        "delete_relations",
        "read_graph",
        "search_nodes",
        "open_nodes",
      ]),
    );
  });

  test("status lists the running daemon as a table and as JSON", async () => {
    await using sandbox = new Sandbox();
    const empty = run(sandbox, ["status"]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/memory\s+\S*\s*stopped/);
    const session = await openSession(sandbox, sandbox.project("p"));
    const lock = sandbox.lock("memory")!;
    const table = run(sandbox, ["status"]);
    expect(table.stdout).toMatch(/TARGET\s+STATE\s+PID\s+PORT\s+UPTIME\s+SESSIONS\s+MEMORY/);
    expect(table.stdout).toMatch(new RegExp(`memory\\s+\\S*\\s*running\\s+${lock.pid}\\s+${lock.port}\\s`));
    // Piped, not a terminal: no colour codes, and every line fits 80 columns.
    expect(table.stdout).not.toContain("\x1b[");
    for (const line of table.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    const json = JSON.parse(run(sandbox, ["status", "--json"]).stdout);
    expect(json.targets).toEqual([expect.objectContaining({ name: "memory", state: "running", pid: lock.pid, port: lock.port, transport: "streamable-http" })]);
    await session.close();
  });

  test("generate-config prints an mcpServers block that runs this binary by absolute path", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, code: { command: "uvx", args: ["code-index-mcp"] } } });
    const result = run(sandbox, ["generate-config"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      mcpServers: {
        memory: { command: MSM, args: ["proxy", "--target", "memory"] },
        code: { command: MSM, args: ["proxy", "--target", "code"] },
      },
    });
  });
});
