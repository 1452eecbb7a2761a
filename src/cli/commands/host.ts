import { defineCommand } from "citty";

/** Hidden: the supervisor runs `msm host --target NAME --detached` for every stdio server msm hosts. */
export default defineCommand({
  meta: { name: "host", description: "Run the daemon hosting a stdio MCP server from config.json (started by msm itself)", hidden: true },
  args: {
    target: { type: "string", description: "Target name in config.json", required: true },
    detached: { type: "boolean", description: "Started by msm itself: log to the log file only", default: false },
  },
  async run({ args }) {
    const { runHostDaemon } = await import("../../host/daemon.ts");
    await runHostDaemon({ target: args.target, detached: args.detached });
  },
});
