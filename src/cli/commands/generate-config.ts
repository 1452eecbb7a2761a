import { defineCommand } from "citty";
import { CLIENT_NAMES, clientNamed } from "../../install/clients/index.ts";
import { launcher, proxyEntry } from "../../install/entries.ts";
import { snippet } from "../../install/snippet.ts";
import { loadConfig, targetNames } from "../../lib/config.ts";
import { UsageError } from "../../lib/errors.ts";
import { strictArgs } from "../strict-args.ts";

export default defineCommand({
  meta: {
    name: "generate-config",
    description: "Print the MCP config that runs every target through this msm binary (msm install writes it for you)",
  },
  args: {
    client: { type: "string", description: `Print it in this editor's format: ${CLIENT_NAMES.join(", ")} (default: a plain mcpServers block)` },
    command: { type: "string", description: "Command in the entries instead of this binary's absolute path" },
  },
  run({ rawArgs }) {
    const args = strictArgs("generate-config", rawArgs, { values: ["client", "command"], choices: { client: CLIENT_NAMES } });
    if (args.positionals.length) throw new UsageError(`Unexpected argument "${args.positionals[0]}"; use --client NAME`);
    const targets = targetNames(loadConfig());
    const how = launcher(args.values.command);
    if (args.values.client) {
      process.stdout.write(snippet(clientNamed(args.values.client)!, targets, how));
      return;
    }
    // Claude Code, Cursor and Claude Desktop all read this shape.
    const mcpServers: Record<string, object> = {};
    for (const name of targets) {
      const { command, args: argv, env } = proxyEntry(how, name);
      mcpServers[name] = { command, args: argv, ...(env && Object.keys(env).length ? { env } : {}) };
    }
    process.stdout.write(JSON.stringify({ mcpServers }, null, 2) + "\n");
  },
});
