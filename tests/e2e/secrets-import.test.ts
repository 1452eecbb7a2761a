// `msm import` keeps references and never writes a secret into config.json: an editor's `${GITHUB_TOKEN}` stays a
// reference, a token in clear goes to the keychain (config.json gets `${secret:NAME}`), and the server then runs with
// both; `msm uninstall` puts the original back byte for byte, secret included. `msm doctor` flags secrets in clear in
// config.json and in editors' files, with where and how to move them, never the value.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../helpers/editors.ts";
import { textOf } from "../helpers/hosted.ts";
import { KEYRING, startKeyring } from "../helpers/keyring.ts";
import { msm, openSession, Sandbox } from "../helpers/sandbox.ts";

const SERVER = join(import.meta.dir, "../fixtures/secret-server.ts");

function everyFileText(dir: string): string {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => readFileSync(path, "latin1"))
    .join("\n");
}

describe.skipIf(!KEYRING)("msm import with a keychain", () => {
  test("${GITHUB_TOKEN} stays a reference, a token in clear moves to the keychain; the server runs with both; uninstall puts it all back", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    await startKeyring(sandbox);
    const clear = `ghp_${crypto.randomUUID().replaceAll("-", "")}`;
    const file = join(sandbox.home, ".claude.json");
    const original = `${JSON.stringify(
      {
        mcpServers: {
          gh: { type: "stdio", command: process.execPath, args: [SERVER], env: { GITHUB_TOKEN: "${GITHUB_TOKEN}", GH_ENTERPRISE_TOKEN: clear } },
        },
      },
      null,
      2,
    )}\n`;
    writeFileSync(file, original, { mode: 0o600 });
    const project = sandbox.project("app");

    const dry = run(sandbox, ["import", "claude-code", "--dry-run"], project);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('env.GH_ENTERPRISE_TOKEN held a secret in clear: it goes to the keychain as "gh.GH_ENTERPRISE_TOKEN"');
    expect(dry.stdout).toContain("[secret]"); // the diff shows the entry going, its secret masked
    expect(dry.stdout).not.toContain(clear);
    expect((await msm(sandbox, ["secret", "get", "gh.GH_ENTERPRISE_TOKEN"])).code).toBe(1); // a dry run stores nothing

    const imported = run(sandbox, ["import", "claude-code"], project);
    expect(imported.code).toBe(0);
    expect(imported.stdout + imported.stderr).not.toContain(clear);
    const config = JSON.parse(readFileSync(join(sandbox.msmHome, "config.json"), "utf8"));
    expect(config.targets.gh.env).toEqual({ GITHUB_TOKEN: "${GITHUB_TOKEN}", GH_ENTERPRISE_TOKEN: "${secret:gh.GH_ENTERPRISE_TOKEN}" });
    expect((await msm(sandbox, ["secret", "get", "gh.GH_ENTERPRISE_TOKEN"])).stdout).toBe(`${clear}\n`);
    // Nothing under MSM_HOME holds it: not config.json, not installs.json (which keeps the original for uninstall).
    expect(everyFileText(sandbox.msmHome)).not.toContain(clear);

    const session = await openSession(sandbox, project, { target: "gh", env: { GITHUB_TOKEN: "from-the-session" } });
    const seen = JSON.parse(textOf(await session.client.callTool({ name: "env", arguments: { names: ["GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN"] } })));
    expect(seen).toEqual({ GITHUB_TOKEN: "from-the-session", GH_ENTERPRISE_TOKEN: clear });
    await session.close();
    expect((await msm(sandbox, ["stop", "--all"])).code).toBe(0);

    const back = run(sandbox, ["uninstall", "claude-code"], project);
    expect(back.code).toBe(0);
    expect(back.stdout).not.toContain(clear);
    expect(readFileSync(file, "utf8")).toBe(original);
  }, 90_000);
});

describe("msm doctor and secrets in clear", () => {
  test("flags them in config.json and in an editor's file with where and how to move them, never the value", async () => {
    const token = `ghp_${crypto.randomUUID().replaceAll("-", "")}`;
    const password = `pw-${crypto.randomUUID()}`;
    await using sandbox = new Sandbox({
      targets: {
        memory: { port: 0, database: `postgres://msm:${password}@127.0.0.1:9/team` },
        gh: { command: "gh-mcp", env: { GITHUB_TOKEN: token, LOG_LEVEL: "debug" } },
        linear: { url: "https://mcp.example.com/mcp", headers: { Authorization: `Bearer ${token}` } },
        fine: { command: "x", env: { GITHUB_TOKEN: "${secret:github}" } },
      },
    });
    writeFileSync(
      join(sandbox.home, ".claude.json"),
      JSON.stringify({
        mcpServers: {
          stripe: { type: "http", url: "https://mcp.stripe.com", headers: { Authorization: `Bearer ${token}` } },
          db: { type: "stdio", command: "db-mcp", args: ["--password", password] },
        },
      }),
    );
    const out = await msm(sandbox, ["doctor"]);
    expect(out.stdout).toContain("secrets in config.json");
    expect(out.stdout).toContain("targets.gh.env.GITHUB_TOKEN (it looks like a GitHub token (gh?_…))");
    expect(out.stdout).toContain("targets.linear.headers.Authorization");
    expect(out.stdout).toContain("targets.memory.database (it holds a password)");
    expect(out.stdout).toContain("msm secret set gh.GITHUB_TOKEN (paste the value), then write ${secret:gh.GITHUB_TOKEN} in its place");
    expect(out.stdout).toContain("~/.pgpass");
    expect(out.stdout).not.toContain("targets.fine");
    expect(out.stdout).toContain("secrets in claude-code (user)");
    expect(out.stdout).toContain("mcpServers.stripe.headers.Authorization");
    expect(out.stdout).toContain("mcpServers.db.args[1] (it follows --password)");
    expect(out.stdout).toContain("msm import claude-code (moves each stdio server's secret to the keychain");
    const json = await msm(sandbox, ["doctor", "--json"]);
    const checks = JSON.parse(json.stdout).checks as { name: string; status: string }[];
    expect(checks.find((c) => c.name === "secrets in config.json")?.status).toBe("warn");
    for (const text of [out.stdout, out.stderr, json.stdout]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(password);
    }
  }, 60_000);
});
