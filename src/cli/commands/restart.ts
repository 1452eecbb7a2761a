import { resolve } from "node:path";
import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import type { Endpoint } from "../../lib/ensure.ts";
import { callManager, ensureSupervisor } from "../../lib/manager.ts";

/** Stop (grace period) + start + health check. */
const RESTART_TIMEOUT_MS = 40_000;

export default defineCommand({
  meta: { name: "restart", description: "Stop and start a target's daemon (a hosted stdio server: all its children, or one with --project); clears a failed state" },
  args: {
    name: { type: "positional", description: "Target to restart", required: true },
    project: { type: "string", description: "A stdio server msm hosts: restart only the child serving this project folder (its sessions stay)" },
  },
  async run({ args }) {
    resolveTarget(loadConfig(), args.name); // an unknown name fails here, with the list of known ones
    const manager = await ensureSupervisor();
    if (args.project) {
      const project = resolve(args.project);
      const path = `/daemons/${encodeURIComponent(args.name)}/restart?project=${encodeURIComponent(project)}`;
      const answer = await callManager<Endpoint & { restarted: string[] }>(manager, "POST", path, RESTART_TIMEOUT_MS + 60_000);
      process.stdout.write(`restarted ${args.name} for ${answer.restarted.join(", ")}\n`);
      return;
    }
    const endpoint = await callManager<Endpoint>(manager, "POST", `/daemons/${encodeURIComponent(args.name)}/restart`, RESTART_TIMEOUT_MS);
    process.stdout.write(`restarted ${args.name}: pid ${endpoint.pid}, ${endpoint.url}\n`);
  },
});
