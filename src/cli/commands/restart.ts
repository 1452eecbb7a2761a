import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import type { Endpoint } from "../../lib/ensure.ts";
import { callManager, ensureSupervisor } from "../../lib/manager.ts";

/** Stop (grace period) + start + health check. */
const RESTART_TIMEOUT_MS = 40_000;

export default defineCommand({
  meta: { name: "restart", description: "Stop and start a target's daemon; also clears a failed (crash-loop) state" },
  args: {
    name: { type: "positional", description: "Target to restart", required: true },
  },
  async run({ args }) {
    resolveTarget(loadConfig(), args.name); // an unknown name fails here, with the list of known ones
    const manager = await ensureSupervisor();
    const endpoint = await callManager<Endpoint>(manager, "POST", `/daemons/${encodeURIComponent(args.name)}/restart`, RESTART_TIMEOUT_MS);
    process.stdout.write(`restarted ${args.name}: pid ${endpoint.pid}, ${endpoint.url}\n`);
  },
});
