import { defineCommand } from "citty";

export default defineCommand({
  meta: {
    name: "supervisor",
    description: "Keep every configured daemon running and serve the manager API on 127.0.0.1 (foreground)",
  },
  args: {
    port: { type: "string", description: "Manager API port (default: supervisor.port in config.json, else 3199)" },
    detached: { type: "boolean", description: "Started by msm itself: log to the log file only", default: false },
  },
  async run({ args }) {
    const { runSupervisor } = await import("../../supervisor/index.ts");
    await runSupervisor({ port: args.port ? Number(args.port) : undefined, detached: args.detached });
  },
});
