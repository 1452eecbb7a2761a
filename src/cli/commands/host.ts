import { defineCommand } from "citty";
import { DAEMON_ARGS } from "../../lib/contracts/daemon-argv.ts";

/** Hidden: the supervisor runs `msm host --target NAME --detached` for every stdio server msm hosts. */
export default defineCommand({
  meta: { name: "host", description: "Run the daemon hosting a stdio MCP server from config.json (started by msm itself)", hidden: true },
  args: DAEMON_ARGS.host,
  async run({ args }) {
    const { runHostDaemon } = await import("../../host/daemon.ts");
    await runHostDaemon({ target: args.target, detached: args.detached });
  },
});
