import { join } from "node:path";
import type { Format } from "./formats/format.ts";

/** user: the person's own config; project: files in the current folder; local: Claude Code's per-project part of ~/.claude.json. */
export type Scope = "user" | "project" | "local";
export const SCOPES: readonly Scope[] = ["user", "project", "local"];

/** Where to look: the user's home, the project folder and the environment (injected so tests can point them anywhere). */
export interface Place {
  home: string;
  cwd: string;
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
}

/** A stdio server as every editor writes one. */
export interface StdioEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface EditorClient {
  /** The name on the command line: claude-code, claude-desktop, cursor, vscode, codex. */
  name: string;
  label: string;
  format: Format;
  /** Where the servers live inside the file: `mcpServers`, `servers` or `mcp_servers`. */
  container: readonly string[];
  /** A scope whose servers live elsewhere in the file (Claude Code's local scope). */
  containerFor?(scope: Scope, place: Place): readonly string[];
  /** The config file of a scope; undefined when the client has no such scope. */
  file(scope: Scope, place: Place): string | undefined;
  /** A folder whose presence says the client is used on this machine. */
  marker(place: Place): string;
  /** The client's own shape of a stdio entry. */
  entry(server: StdioEntry): Record<string, unknown>;
  /** The client's variable for the session's folder (`${workspaceFolder}`), which msm's host calls `{project}`. */
  projectVariable?: string;
  /** Its own variable syntax: VS Code and Cursor write `${env:NAME}` (msm's `${NAME}`) and `${userHome}`. */
  variables?: "vscode";
  /** What the user must do for the client to see a change. */
  after?: string;
}

/** The user's config folder per platform, for clients that follow it (VS Code, Claude Desktop). */
export function appDataDir(place: Place): string {
  if (place.platform === "darwin") return join(place.home, "Library", "Application Support");
  if (place.platform === "win32") return place.env.APPDATA ?? join(place.home, "AppData", "Roaming");
  return place.env.XDG_CONFIG_HOME || join(place.home, ".config");
}

/** `{command, args, env}` with `env` left out when empty, as the editors' own CLIs write it. */
export function plainEntry(server: StdioEntry): Record<string, unknown> {
  return { command: server.command, args: server.args, ...(server.env && Object.keys(server.env).length ? { env: server.env } : {}) };
}

/** One scope of one client: the file and where in it msm's entries go. */
export interface Spot {
  client: EditorClient;
  scope: Scope;
  file: string;
  container: readonly string[];
}

export function spotOf(client: EditorClient, scope: Scope, place: Place): Spot | undefined {
  const file = client.file(scope, place);
  return file === undefined ? undefined : { client, scope, file, container: client.containerFor?.(scope, place) ?? client.container };
}
