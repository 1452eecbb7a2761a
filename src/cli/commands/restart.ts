import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import type { Endpoint } from "../../lib/ensure.ts";
import { callManager, ensureSupervisor } from "../../lib/manager.ts";

/** Beyond the target's own start timeout: the stop's grace period, and then some. */
const STOP_ALLOWANCE_MS = 15_000;

export default defineCommand({
  meta: { name: "restart", description: "Restart a target's daemon with its config re-read; clears a failed state" },
  args: {
    name: { type: "positional", description: "Target to restart", required: true },
  },
  async run({ args }) {
    // An unknown or broken name fails here, with the list of known ones or the key that is wrong.
    const target = resolveTarget(loadConfig(), args.name);
    const manager = await ensureSupervisor();
    const timeoutMs = target.startTimeoutMs + STOP_ALLOWANCE_MS;
    const endpoint = await callManager<Endpoint>(manager, "POST", `/daemons/${encodeURIComponent(args.name)}/restart`, timeoutMs);
    process.stdout.write(`restarted ${args.name}: pid ${endpoint.pid}, ${endpoint.url}\n`);
  },
});
