import { defineCommand } from "citty";

export default defineCommand({
  meta: {
    name: "proxy",
    description: "Bridge this editor session (stdio) to the target's shared daemon, starting it if needed",
  },
  args: {
    target: { type: "string", description: "Target name from config.json, or the built-in \"memory\"", required: true },
    project: { type: "string", description: "Project directory sent to the daemon (default: $CLAUDE_PROJECT_DIR, else the nearest .git/.claude ancestor)" },
  },
  async run({ args }) {
    const { runProxy } = await import("../../proxy/index.ts");
    await runProxy({ target: args.target, project: args.project });
  },
});
