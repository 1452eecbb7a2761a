import type { EditorClient } from "./client.ts";
import { proxyEntry, type Launcher, type ProxiedKind } from "./entries.ts";
import { toml } from "./formats/toml.ts";

/** POSIX shell quoting, only where needed, so a printed command can be pasted as is. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What to paste into a client's config for these targets (or a profile), in the client's own format and shape. */
export function snippet(client: EditorClient, targets: string[], how: Launcher, kind: ProxiedKind = "target"): string {
  const entries: Record<string, Record<string, unknown>> = {};
  for (const name of targets) entries[name] = client.entry(proxyEntry(how, name, kind));
  if (client.format === toml) {
    let text = "";
    for (const [name, entry] of Object.entries(entries)) text = toml.add(text, client.container, name, entry, "config.toml").text;
    return text;
  }
  let text = JSON.stringify({ [client.container[0]!]: entries }, null, 2) + "\n";
  if (client.name === "claude-code") {
    text += "\n# or with the claude CLI (--scope user, project or local):\n";
    for (const name of targets) {
      const server = proxyEntry(how, name, kind);
      const env = Object.entries(server.env ?? {})
        .map(([k, v]) => `--env ${shellQuote(`${k}=${v}`)} `)
        .join("");
      text += `claude mcp add --scope user ${env}${shellQuote(name)} -- ${[server.command, ...server.args].map(shellQuote).join(" ")}\n`;
    }
  }
  return text;
}
