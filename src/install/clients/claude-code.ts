import { join } from "node:path";
import { json } from "../formats/json.ts";
import { plainEntry, type EditorClient } from "../client.ts";

/**
 * Claude Code: user scope in `~/.claude.json` (top-level `mcpServers`; `$CLAUDE_CONFIG_DIR/.claude.json` when set),
 * local scope (what `claude mcp add` writes by default) in the same file under `projects["<abs path>"].mcpServers`,
 * project scope in `<project>/.mcp.json`. `~/.claude.json` is large and rewritten by Claude Code all the time, so
 * only the `mcpServers` member is ever touched, and a write that races Claude Code's is redone, not forced.
 */
export const claudeCode: EditorClient = {
  name: "claude-code",
  label: "Claude Code",
  format: json,
  container: ["mcpServers"],
  containerFor: (scope, place) => (scope === "local" ? ["projects", place.cwd, "mcpServers"] : ["mcpServers"]),
  file(scope, place) {
    if (scope === "project") return join(place.cwd, ".mcp.json");
    // user and local scope share ~/.claude.json
    return join(place.env.CLAUDE_CONFIG_DIR || place.home, ".claude.json");
  },
  marker: (place) => join(place.env.CLAUDE_CONFIG_DIR || place.home, ".claude"),
  entry: (server) => ({ type: "stdio", ...plainEntry(server) }),
  after: "start a new session (project servers need approval once: run claude and accept them)",
};
