import { join } from "node:path";
import { jsonc } from "../formats/jsonc.ts";
import { appDataDir, plainEntry, type EditorClient } from "../client.ts";

/**
 * VS Code: the profile's `Code/User/mcp.json` and the workspace's `.vscode/mcp.json`. The key is `servers` (not
 * `mcpServers`), entries say `"type": "stdio"`, and the file is JSONC: comments and trailing commas are kept.
 */
export const vscode: EditorClient = {
  name: "vscode",
  label: "VS Code",
  format: jsonc,
  container: ["servers"],
  file: (scope, place) =>
    scope === "local" ? undefined : scope === "user" ? join(appDataDir(place), "Code", "User", "mcp.json") : join(place.cwd, ".vscode", "mcp.json"),
  marker: (place) => join(appDataDir(place), "Code", "User"),
  projectVariable: "${workspaceFolder}",
  variables: "vscode",
  entry: (server) => ({ type: "stdio", ...plainEntry(server) }),
};
