import { defineCommand } from "citty";
import { loadConfig } from "../../lib/config.ts";
import { selfCommand } from "../../lib/spawn.ts";

/** The `mcpServers` block Claude Code (and Cursor, Claude Desktop) read: every target runs through this binary. */
export function mcpServersBlock(): { mcpServers: Record<string, { command: string; args: string[] }> } {
  const [command, ...prefix] = selfCommand();
  const names = ["memory", ...Object.keys(loadConfig().targets).filter((n) => n !== "memory")];
  const mcpServers: Record<string, { command: string; args: string[] }> = {};
  for (const name of names) mcpServers[name] = { command: command!, args: [...prefix, "proxy", "--target", name] };
  return { mcpServers };
}

export default defineCommand({
  meta: {
    name: "generate-config",
    description: "Print the mcpServers JSON block that runs every target through this msm binary",
  },
  async run() {
    process.stdout.write(JSON.stringify(mcpServersBlock(), null, 2) + "\n");
  },
});
