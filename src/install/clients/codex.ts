import { join } from "node:path";
import { toml } from "../formats/toml.ts";
import { plainEntry, type EditorClient } from "../client.ts";

/**
 * Codex: `[mcp_servers.NAME]` tables in `$CODEX_HOME/config.toml` (default `~/.codex`), or `<project>/.codex/
 * config.toml` for trusted projects. Only a whitelist of variables reaches stdio servers; `env` in the entry does.
 */
export const codex: EditorClient = {
  name: "codex",
  label: "Codex",
  format: toml,
  container: ["mcp_servers"],
  file: (scope, place) =>
    scope === "local" ? undefined : join(scope === "user" ? place.env.CODEX_HOME || join(place.home, ".codex") : join(place.cwd, ".codex"), "config.toml"),
  marker: (place) => place.env.CODEX_HOME || join(place.home, ".codex"),
  entry: plainEntry,
};
