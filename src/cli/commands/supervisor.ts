import { defineCommand } from "citty";
import { DAEMON_ARGS, parsePort } from "../../lib/contracts/daemon-argv.ts";

export default defineCommand({
  meta: {
    name: "supervisor",
    description: "Keep every configured daemon running and serve the manager API on 127.0.0.1 (foreground)",
  },
  args: DAEMON_ARGS.supervisor,
  async run({ args }) {
    const { runSupervisor } = await import("../../supervisor/index.ts");
    await runSupervisor({ port: args.port ? parsePort(args.port) : undefined, detached: args.detached });
  },
});
