import { defineCommand } from "citty";
import { CLIENT_NAMES, clientNamed, configuredProfile, launcher, proxyEntry, snippet } from "../../install/index.ts";
import { loadConfig, targetNames } from "../../lib/config.ts";

export default defineCommand({
  meta: {
    name: "generate-config",
    description: "Print the MCP config that runs every target through this msm binary (msm install writes it for you)",
  },
  args: {
    client: {
      type: "enum",
      options: CLIENT_NAMES,
      description: `Print it in this editor's format: ${CLIENT_NAMES.join(", ")} (default: a plain mcpServers block)`,
    },
    command: { type: "string", description: "Command in the entries instead of this binary's absolute path" },
    profile: { type: "string", description: "One entry for this profile of config.json instead of one per target (docs/profiles.md)" },
  },
  run({ args }) {
    const kind = args.profile === undefined ? "target" : "profile";
    const targets = args.profile === undefined ? targetNames(loadConfig()) : [configuredProfile(args.profile).name];
    const how = launcher(args.command);
    if (args.client) {
      process.stdout.write(snippet(clientNamed(args.client)!, targets, how, kind));
      return;
    }
    // Claude Code, Cursor and Claude Desktop all read this shape.
    const mcpServers: Record<string, object> = {};
    for (const name of targets) {
      const { command, args: argv, env } = proxyEntry(how, name, kind);
      mcpServers[name] = { command, args: argv, ...(env && Object.keys(env).length ? { env } : {}) };
    }
    process.stdout.write(JSON.stringify({ mcpServers }, null, 2) + "\n");
  },
});
