import { expect, test } from "bun:test";
import { spotOf, type Place, type Scope } from "../../../src/install/client.ts";
import { CLIENTS } from "../../../src/install/clients/index.ts";

const where = (platform: NodeJS.Platform, env: Record<string, string> = {}): Place => ({ home: "/h", cwd: "/p", env, platform });

function files(place: Place, scope: Scope): Record<string, string | undefined> {
  return Object.fromEntries(CLIENTS.map((c) => [c.name, spotOf(c, scope, place)?.file]));
}

test("each client's file per platform and scope, as CLIENTS.md lists them", () => {
  expect(files(where("linux"), "user")).toEqual({
    "claude-code": "/h/.claude.json",
    "claude-desktop": "/h/.config/Claude/claude_desktop_config.json",
    cursor: "/h/.cursor/mcp.json",
    vscode: "/h/.config/Code/User/mcp.json",
    codex: "/h/.codex/config.toml",
  });
  expect(files(where("darwin"), "user")).toMatchObject({
    "claude-desktop": "/h/Library/Application Support/Claude/claude_desktop_config.json",
    vscode: "/h/Library/Application Support/Code/User/mcp.json",
  });
  expect(files(where("win32", { APPDATA: "/h/AppData/Roaming" }), "user")).toMatchObject({
    "claude-desktop": "/h/AppData/Roaming/Claude/claude_desktop_config.json",
    vscode: "/h/AppData/Roaming/Code/User/mcp.json",
  });
  expect(files(where("linux", { XDG_CONFIG_HOME: "/x", CODEX_HOME: "/c", CLAUDE_CONFIG_DIR: "/cc" }), "user")).toMatchObject({
    "claude-code": "/cc/.claude.json",
    vscode: "/x/Code/User/mcp.json",
    codex: "/c/config.toml",
  });
  expect(files(where("linux"), "project")).toEqual({
    "claude-code": "/p/.mcp.json",
    "claude-desktop": undefined,
    cursor: "/p/.cursor/mcp.json",
    vscode: "/p/.vscode/mcp.json",
    codex: "/p/.codex/config.toml",
  });
  expect(files(where("linux"), "local")).toEqual({
    "claude-code": "/h/.claude.json",
    "claude-desktop": undefined,
    cursor: undefined,
    vscode: undefined,
    codex: undefined,
  });
  expect(spotOf(CLIENTS[0]!, "local", where("linux"))!.container).toEqual(["projects", "/p", "mcpServers"]);
  expect(CLIENTS.map((c) => c.container.join("."))).toEqual(["mcpServers", "mcpServers", "mcpServers", "servers", "mcp_servers"]);
}, 10_000);
