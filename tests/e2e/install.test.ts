/**
 * `msm install`, `import` and `uninstall` on real-format config files of every client and scope, with foreign
 * entries and comments: what is written, what is kept, and that the way back is byte for byte.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "../helpers/editors.ts";
import { MSM, Sandbox } from "../helpers/sandbox.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/editors");

interface Case {
  client: string;
  scope: "user" | "project";
  fixture: string;
  /** Where the client keeps this scope's file, given the sandbox home and the project. */
  file: (home: string, project: string) => string;
  container: string;
  /** Entries import moves behind msm. */
  imported: string[];
  /** Entries import must leave exactly as they are (URL servers, ${…} variables, envFile). */
  untouched: string[];
  /** Comments that must survive every edit. */
  comments: string[];
  /** Comments inside an imported entry: replaced with it while imported, back after uninstall. */
  inside?: string[];
  /** The entry's shape beyond command and args. */
  typed: boolean;
}

const CASES: Case[] = [
  {
    client: "claude-code",
    scope: "user",
    fixture: "claude-code.user.json",
    file: (h) => join(h, ".claude.json"),
    container: "mcpServers",
    imported: ["sqlite"],
    untouched: ["sentry"],
    comments: [],
    typed: true,
  },
  {
    client: "claude-code",
    scope: "project",
    fixture: "claude-code.project.json",
    file: (_h, p) => join(p, ".mcp.json"),
    container: "mcpServers",
    imported: ["context7"],
    untouched: ["linear"],
    comments: [],
    typed: true,
  },
  {
    client: "claude-desktop",
    scope: "user",
    fixture: "claude-desktop.user.json",
    file: (h) => join(h, ".config/Claude/claude_desktop_config.json"),
    container: "mcpServers",
    imported: ["filesystem"],
    // Its token is in clear and the sandbox has no keychain to move it to: left as it is (secrets-import.test.ts moves it).
    untouched: ["github"],
    comments: [],
    typed: false,
  },
  {
    client: "cursor",
    scope: "user",
    fixture: "cursor.user.json",
    file: (h) => join(h, ".cursor/mcp.json"),
    container: "mcpServers",
    imported: ["browser", "secrets"],
    untouched: ["stripe"],
    comments: [],
    typed: false,
  },
  {
    client: "cursor",
    scope: "project",
    fixture: "cursor.project.json",
    file: (_h, p) => join(p, ".cursor/mcp.json"),
    container: "mcpServers",
    imported: ["db"],
    untouched: [],
    comments: [],
    typed: false,
  },
  {
    client: "vscode",
    scope: "user",
    fixture: "vscode.user.jsonc",
    file: (h) => join(h, ".config/Code/User/mcp.json"),
    container: "servers",
    imported: ["fetch"],
    untouched: ["perplexity", "github"],
    comments: ["// VS Code user MCP servers", "/* search, keyed by an input */", "// no key needed", "// remote"],
    inside: ["// no key needed"],
    typed: true,
  },
  {
    client: "vscode",
    scope: "project",
    fixture: "vscode.project.jsonc",
    file: (_h, p) => join(p, ".vscode/mcp.json"),
    container: "servers",
    imported: ["playwright", "files"],
    untouched: [],
    comments: ["// Shared with the team"],
    typed: true,
  },
  {
    client: "codex",
    scope: "user",
    fixture: "codex.user.toml",
    file: (h) => join(h, ".codex/config.toml"),
    container: "mcp_servers",
    imported: ["docs"],
    untouched: ["figma"],
    comments: ["# Codex configuration", "# Remote one, left alone by import"],
    typed: false,
  },
  {
    client: "codex",
    scope: "project",
    fixture: "codex.project.toml",
    file: (_h, p) => join(p, ".codex/config.toml"),
    container: "mcp_servers",
    imported: ["search"],
    untouched: [],
    comments: ["# project-level Codex settings"],
    typed: false,
  },
];

function parse(file: string): Record<string, unknown> {
  const text = readFileSync(file, "utf8");
  if (file.endsWith(".toml")) return Bun.TOML.parse(text) as Record<string, unknown>;
  return Bun.JSONC.parse(text) as Record<string, unknown>;
}

function servers(file: string, container: string): Record<string, Record<string, unknown>> {
  return (parse(file)[container] ?? {}) as Record<string, Record<string, unknown>>;
}

/** Every file under the sandbox (home, MSM_HOME, projects) with its content, to prove a dry run wrote nothing. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.set(path, readFileSync(path, "utf8"));
    }
  };
  walk(root);
  return out;
}

function setup(c: Case, sandbox: Sandbox): { file: string; project: string; original: string } {
  const project = sandbox.project("app");
  const file = c.file(sandbox.home, project);
  mkdirSync(dirname(file), { recursive: true });
  cpSync(join(FIXTURES, c.fixture), file);
  chmodSync(file, 0o640);
  return { file, project, original: readFileSync(file, "utf8") };
}

const scopeArgs = (c: Case) => (c.scope === "project" ? ["--scope", "project"] : []);

describe.each(CASES)("$client ($scope)", (c) => {
  test("install adds msm's entry and keeps everything else; again changes nothing; uninstall is byte-identical", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const { file, project, original } = setup(c, sandbox);
    const before = servers(file, c.container);
    const first = run(sandbox, ["install", c.client, ...scopeArgs(c)], project);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("added memory");
    const after = servers(file, c.container);
    expect(after.memory).toEqual({ ...(c.typed ? { type: "stdio" } : {}), command: MSM, args: ["proxy", "--target", "memory"] });
    for (const [name, entry] of Object.entries(before)) expect(after[name]).toEqual(entry);
    const text = readFileSync(file, "utf8");
    for (const comment of c.comments) expect(text).toContain(comment);
    expect(text.startsWith(original.slice(0, 20))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readFileSync(`${file}.msm-backup`, "utf8")).toBe(original);
    expect(statSync(join(sandbox.msmHome, "installs.json")).mode & 0o777).toBe(0o600);

    const again = run(sandbox, ["install", c.client, ...scopeArgs(c)], project);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("no change");
    expect(readFileSync(file, "utf8")).toBe(text);

    const back = run(sandbox, ["uninstall", c.client, ...scopeArgs(c)], project);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("removed memory");
    expect(readFileSync(file, "utf8")).toBe(original);
    expect(statSync(file).mode & 0o777).toBe(0o640);
  }, 60_000);

  test("import moves stdio servers behind msm and leaves the rest; uninstall puts the file back byte for byte", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const { file, project, original } = setup(c, sandbox);
    const before = servers(file, c.container);
    const result = run(sandbox, ["import", c.client, ...scopeArgs(c)], project);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const after = servers(file, c.container);
    const config = JSON.parse(readFileSync(join(sandbox.msmHome, "config.json"), "utf8"));
    expect(config.targets.memory).toEqual({ port: 0 });
    for (const name of c.imported) {
      const was = before[name]!;
      expect(after[name]!.command).toBe(MSM);
      expect(after[name]!.args).toEqual(["proxy", "--target", name]);
      expect(after[name]!.env).toBeUndefined();
      // Codex's env_vars are passed from the editor's environment: msm's ${NAME}.
      const vars = {
        ...(was.env as Record<string, string> | undefined),
        ...Object.fromEntries(((was.env_vars as string[] | undefined) ?? []).map((n) => [n, `\${${n}}`])),
      };
      const env = Object.keys(vars).length ? { env: vars } : {};
      // ${workspaceFolder} is the session's project: msm's host calls it {project}.
      const project = (a: string) => a.replace("${workspaceFolder}", "{project}");
      const args = (was.args as string[]).map(project);
      const envFile = typeof was.envFile === "string" ? { envFile: project(was.envFile) } : {};
      expect(config.targets[name]).toEqual({ command: was.command, args, ...env, ...envFile, share: "project" });
    }
    for (const name of c.untouched) {
      expect(after[name]).toEqual(before[name]!);
      expect(config.targets[name]).toBeUndefined();
    }
    if (c.client === "codex" && c.scope === "user") expect(after.docs!.startup_timeout_sec).toBe(20); // non-launch keys carried
    const text = readFileSync(file, "utf8");
    for (const comment of c.comments) if (!c.inside?.includes(comment)) expect(text).toContain(comment);
    expect(statSync(join(sandbox.msmHome, "config.json")).mode & 0o777).toBe(0o600);

    const again = run(sandbox, ["import", c.client, ...scopeArgs(c)], project);
    expect(again.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(text);

    // install after import adds only what is missing (memory), then uninstall undoes both.
    expect(run(sandbox, ["install", c.client, ...scopeArgs(c)], project).code).toBe(0);
    expect(servers(file, c.container).memory!.command).toBe(MSM);
    const back = run(sandbox, ["uninstall", c.client, ...scopeArgs(c)], project);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("original entry restored");
    expect(readFileSync(file, "utf8")).toBe(original);
  }, 60_000);

  test("--dry-run prints the diff and writes nothing", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const { project } = setup(c, sandbox);
    const snapshot = tree(sandbox.root);
    const install = run(sandbox, ["install", c.client, ...scopeArgs(c), "--dry-run"], project);
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/^\+.*proxy/m);
    const imported = run(sandbox, ["import", c.client, ...scopeArgs(c), "--dry-run"], project);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`-`);
    expect(imported.stdout).toMatch(new RegExp(`^\\+.*"?${c.imported[0]}"?`, "m"));
    expect(tree(sandbox.root)).toEqual(snapshot);
  }, 60_000);
});

describe("install across clients", () => {
  test("Claude Code's local scope: this folder's servers in ~/.claude.json, imported and put back", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const file = join(sandbox.home, ".claude.json");
    const fixture = JSON.parse(readFileSync(join(FIXTURES, "claude-code.user.json"), "utf8"));
    fixture.projects[project] = {
      allowedTools: [],
      mcpServers: { "local-db": { type: "stdio", command: "/nonexistent/uvx", args: ["db-mcp"], env: { DB: "x" } } },
    };
    const original = JSON.stringify(fixture, null, 2);
    writeFileSync(file, original);
    const local = () => JSON.parse(readFileSync(file, "utf8")).projects[project].mcpServers;
    expect(run(sandbox, ["import", "claude-code", "--scope", "local"], project).code).toBe(0);
    expect(run(sandbox, ["install", "claude-code", "--scope", "local"], project).code).toBe(0);
    expect(local()["local-db"]).toEqual({ type: "stdio", command: MSM, args: ["proxy", "--target", "local-db"] });
    expect(local().memory.command).toBe(MSM);
    // the user scope and the other project are untouched
    expect(JSON.parse(readFileSync(file, "utf8")).mcpServers).toEqual(fixture.mcpServers);
    expect(JSON.parse(readFileSync(file, "utf8")).projects["/home/someone/code/app"]).toEqual(fixture.projects["/home/someone/code/app"]);
    expect(run(sandbox, ["uninstall", "claude-code", "--scope", "local"], project).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(original);
    // A project Claude Code has not seen yet: msm adds the path and takes it away again.
    const other = sandbox.project("new");
    expect(run(sandbox, ["install", "claude-code", "--scope", "local"], other).code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).projects[other].mcpServers.memory.command).toBe(MSM);
    expect(run(sandbox, ["uninstall", "claude-code", "--scope", "local"], other).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(original);
    expect(run(sandbox, ["install", "cursor", "--scope", "local"], project).code).toBe(2);
  }, 60_000);

  test("a machine with all five editors: import, then install, then uninstall puts every file back exactly", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const users = CASES.filter((c) => c.scope === "user").map((c) => ({ c, ...setup(c, sandbox) }));
    const project = sandbox.project("app");
    const imported = run(sandbox, ["import"], project);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    const installed = run(sandbox, ["install"], project);
    expect(installed.code).toBe(0);
    const config = JSON.parse(readFileSync(join(sandbox.msmHome, "config.json"), "utf8"));
    for (const { c, file } of users) {
      const entries = servers(file, c.container);
      expect(entries.memory!.command).toBe(MSM);
      for (const name of c.imported) {
        expect(entries[name]!.args).toEqual(["proxy", "--target", name]);
        expect(config.targets[name].share).toBe("project");
      }
    }
    expect(run(sandbox, ["uninstall"], project).code).toBe(0);
    for (const { file, original } of users) expect(readFileSync(file, "utf8")).toBe(original);
  }, 60_000);

  test("with no client, every editor found on the machine; files that did not exist are removed again", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, notes: { command: "/nonexistent/notes-mcp", args: [] } } });
    const project = sandbox.project("app");
    mkdirSync(join(sandbox.home, ".cursor"), { recursive: true });
    mkdirSync(join(sandbox.home, ".codex"), { recursive: true });
    const result = run(sandbox, ["install"], project);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Cursor");
    expect(result.stdout).toContain("Codex");
    expect(result.stdout).not.toContain("VS Code");
    expect(Object.keys(servers(join(sandbox.home, ".cursor/mcp.json"), "mcpServers"))).toEqual(["memory", "notes"]);
    expect(Object.keys(servers(join(sandbox.home, ".codex/config.toml"), "mcp_servers"))).toEqual(["memory", "notes"]);
    expect(run(sandbox, ["uninstall"], project).code).toBe(0);
    expect(existsSync(join(sandbox.home, ".cursor/mcp.json"))).toBe(false);
    expect(existsSync(join(sandbox.home, ".codex/config.toml"))).toBe(false);
    expect(readdirSync(join(sandbox.home, ".cursor"))).toEqual([]);
  }, 60_000);

  test("--target, --command and a non-default MSM_HOME shape the entry", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, notes: { command: "/nonexistent/notes-mcp", args: [] } } });
    const project = sandbox.project("app");
    const home = join(sandbox.root, "elsewhere");
    mkdirSync(home, { recursive: true, mode: 0o700 });
    cpSync(join(sandbox.msmHome, "config.json"), join(home, "config.json"));
    const result = run(sandbox, ["install", "claude-code", "--scope", "project", "--target", "notes", "--command", "msm"], project, { MSM_HOME: home });
    expect(result.code).toBe(0);
    expect(servers(join(project, ".mcp.json"), "mcpServers")).toEqual({
      notes: { type: "stdio", command: "msm", args: ["proxy", "--target", "notes"], env: { MSM_HOME: home } },
    });
  }, 60_000);

  test("--profile writes one entry for the profile, says which targets also have their own, and uninstall removes it", async () => {
    await using sandbox = new Sandbox({
      targets: { memory: { port: 0 }, a: { command: "/nonexistent/a", args: [] }, b: { command: "/nonexistent/b", args: [] } },
      profiles: { dev: { targets: ["a", "b"], mode: "search" } },
    });
    const project = sandbox.project("app");
    expect(run(sandbox, ["install", "claude-code", "--scope", "project", "--target", "a", "--command", "msm"], project).code).toBe(0);
    const result = run(sandbox, ["install", "claude-code", "--scope", "project", "--profile", "dev", "--command", "msm"], project);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("added dev");
    expect(result.stdout).toContain("a also has an entry of its own here");
    expect(servers(join(project, ".mcp.json"), "mcpServers")).toEqual({
      a: { type: "stdio", command: "msm", args: ["proxy", "--target", "a"] },
      dev: { type: "stdio", command: "msm", args: ["proxy", "--profile", "dev"] },
    });
    // Again: nothing to change. generate-config prints the same entry.
    expect(run(sandbox, ["install", "claude-code", "--scope", "project", "--profile", "dev", "--command", "msm"], project).stdout).toContain("dev already set");
    const generated = run(sandbox, ["generate-config", "--profile", "dev", "--command", "msm"], project);
    expect(JSON.parse(generated.stdout)).toEqual({ mcpServers: { dev: { command: "msm", args: ["proxy", "--profile", "dev"] } } });
    const unknown = run(sandbox, ["install", "claude-code", "--scope", "project", "--profile", "nope"], project);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown profile "nope". Profiles: dev.');
    expect(run(sandbox, ["uninstall", "claude-code", "--scope", "project"], project).code).toBe(0);
    expect(existsSync(join(project, ".mcp.json"))).toBe(false);
  }, 60_000);

  test("several editors in one run, and --target repeated or comma-separated", async () => {
    await using sandbox = new Sandbox({
      targets: {
        memory: { port: 0 },
        a: { command: "/nonexistent/a", args: [] },
        b: { command: "/nonexistent/b", args: [] },
        c: { command: "/nonexistent/c", args: [] },
      },
    });
    const project = sandbox.project("app");
    const result = run(sandbox, ["install", "claude-code", "cursor", "--scope", "project", "--target", "a", "--target=b,c", "--command", "msm"], project);
    expect(result.code).toBe(0);
    expect(Object.keys(servers(join(project, ".mcp.json"), "mcpServers")).sort()).toEqual(["a", "b", "c"]);
    expect(Object.keys(servers(join(project, ".cursor/mcp.json"), "mcpServers")).sort()).toEqual(["a", "b", "c"]);
  }, 60_000);

  test("a foreign entry with msm's target name is reported and left alone", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const file = join(sandbox.home, ".cursor/mcp.json");
    mkdirSync(dirname(file), { recursive: true });
    const original = JSON.stringify({ mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] } } }, null, 2);
    writeFileSync(file, original);
    const result = run(sandbox, ["install", "cursor"], project);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("memory is already there and is not msm's: left alone (msm's memory is a drop-in for it");
    expect(readFileSync(file, "utf8")).toBe(original);
    // import cannot take it either: "memory" is msm's built-in target.
    const imported = run(sandbox, ["import", "cursor"], project);
    expect(imported.stdout).toContain('msm already has a different target "memory"');
    expect(readFileSync(file, "utf8")).toBe(original);
  }, 60_000);

  test("the same server imported from two editors becomes one target; a different one with the same name is a clash", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const cursorFile = join(sandbox.home, ".cursor/mcp.json");
    const desktopFile = join(sandbox.home, ".config/Claude/claude_desktop_config.json");
    const codexFile = join(sandbox.home, ".codex/config.toml");
    mkdirSync(dirname(cursorFile), { recursive: true });
    mkdirSync(dirname(desktopFile), { recursive: true });
    mkdirSync(dirname(codexFile), { recursive: true });
    writeFileSync(cursorFile, JSON.stringify({ mcpServers: { fs: { command: "/nonexistent/npx", args: ["fs"] } } }));
    writeFileSync(desktopFile, JSON.stringify({ mcpServers: { fs: { command: "/nonexistent/npx", args: ["fs"] } } }));
    const codexOriginal = '[mcp_servers.fs]\ncommand = "/nonexistent/other"\n';
    writeFileSync(codexFile, codexOriginal);
    expect(run(sandbox, ["import", "cursor"], project).code).toBe(0);
    const desktop = run(sandbox, ["import", "claude-desktop"], project);
    expect(desktop.stdout).toContain("same server as the existing target");
    expect(servers(desktopFile, "mcpServers").fs!.command).toBe(MSM);
    const codex = run(sandbox, ["import", "codex"], project);
    expect(codex.stdout).toContain('msm already has a different target "fs"');
    expect(readFileSync(codexFile, "utf8")).toBe(codexOriginal);
  }, 60_000);

  test("--share global: one server for every session, but not for a server that needs the project folder", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const c = CASES.find((x) => x.client === "vscode" && x.scope === "project")!;
    const { file, project } = setup(c, sandbox);
    const result = run(sandbox, ["import", "vscode", "--scope", "project", "--share", "global"], project);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("files: not imported, it uses ${workspaceFolder}");
    const config = JSON.parse(readFileSync(join(sandbox.msmHome, "config.json"), "utf8"));
    expect(config.targets.playwright.share).toBe("global");
    expect(config.targets.files).toBeUndefined();
    expect(servers(file, "servers").files!.command).toBe("/nonexistent/npx");
  }, 60_000);

  test("a file msm cannot read is reported and left alone; the other editors are still done (exit 1)", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const broken = join(sandbox.home, ".cursor/mcp.json");
    mkdirSync(dirname(broken), { recursive: true });
    writeFileSync(broken, '{ "mcpServers": { "a": { "command": "x" }, }'); // truncated by a crash
    mkdirSync(join(sandbox.home, ".codex"));
    const result = run(sandbox, ["install"], project);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Cursor · ~\/\.cursor\/mcp\.json\n {2}error: .*mcp\.json.* at line 1, column \d+\. It was left as it was\./);
    expect(readFileSync(broken, "utf8")).toBe('{ "mcpServers": { "a": { "command": "x" }, }');
    expect(servers(join(sandbox.home, ".codex/config.toml"), "mcp_servers").memory!.command).toBe(MSM);
  }, 60_000);

  test("unknown clients, flags and targets are errors that change nothing", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const project = sandbox.project("app");
    const snapshot = tree(sandbox.root);
    for (const args of [
      ["install", "emacs"],
      ["install", "--format", "vscode"],
      ["install", "--scope", "global"],
      ["import", "--share", "everyone"],
      ["uninstall", "--bogus"],
      ["install", "claude-desktop", "--scope", "project"],
    ]) {
      const result = run(sandbox, args, project);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/msm: .+\nRun "msm \S+ --help" for usage\./);
    }
    const target = run(sandbox, ["install", "cursor", "--target", "nope"], project);
    expect(target.code).toBe(1);
    expect(target.stderr).toContain('Unknown target "nope"');
    expect(tree(sandbox.root)).toEqual(snapshot);
  }, 60_000);
});
