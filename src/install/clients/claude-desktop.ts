import { join } from "node:path";
import { json } from "../formats/json.ts";
import { appDataDir, plainEntry, type EditorClient } from "../client.ts";

/**
 * Claude Desktop: one user file, `Claude/claude_desktop_config.json` in the platform's app-data folder (Linux has no
 * official build; community builds use `~/.config/Claude`). It passes stdio servers only a few variables, which is
 * why a non-default MSM_HOME travels inside the entry.
 */
export const claudeDesktop: EditorClient = {
  name: "claude-desktop",
  label: "Claude Desktop",
  format: json,
  container: ["mcpServers"],
  file: (scope, place) => (scope === "user" ? join(appDataDir(place), "Claude", "claude_desktop_config.json") : undefined),
  marker: (place) => join(appDataDir(place), "Claude"),
  entry: plainEntry,
  after: "restart Claude Desktop",
};
