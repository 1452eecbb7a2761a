import { join } from "node:path";
import { json } from "../formats/json.ts";
import { plainEntry, type EditorClient } from "../client.ts";

/** Cursor: `~/.cursor/mcp.json` and `<project>/.cursor/mcp.json`, `mcpServers` like Claude's. */
export const cursor: EditorClient = {
  name: "cursor",
  label: "Cursor",
  format: json,
  container: ["mcpServers"],
  file: (scope, place) => (scope === "local" ? undefined : join(scope === "user" ? place.home : place.cwd, ".cursor", "mcp.json")),
  marker: (place) => join(place.home, ".cursor"),
  projectVariable: "${workspaceFolder}",
  variables: "vscode",
  entry: plainEntry,
};
