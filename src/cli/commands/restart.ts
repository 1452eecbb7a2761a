import { resolve } from "node:path";
import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import { callSupervisor } from "../../lib/contracts/supervisor-api.ts";
import { MsmError } from "../../lib/errors.ts";
import { ensureSupervisor, SUPERVISOR } from "../../lib/manager.ts";
import { RESTART_TIMEOUT_MS, replaceDaemons, restartSupervisor } from "../../lib/upgrade.ts";

/** Beyond the target's own start timeout (a slow starter may take minutes): the stop's grace period, and then some. */
const STOP_ALLOWANCE_MS = 15_000;

export default defineCommand({
  meta: {
    name: "restart",
    description:
      "Restart a target's daemon, config re-read (clears a failed state; a hosted stdio server: all its children, or one with --project); --all: every running daemon",
  },
  args: {
    name: {
      type: "positional",
      description: 'Target to restart; "supervisor": the supervisor itself (for a changed supervisor.port), daemons kept running',
      required: false,
    },
    all: { type: "boolean", description: "Every running daemon, one at a time (and the supervisor, if it is another msm version)", default: false },
    project: { type: "string", description: "A stdio server msm hosts: restart only the child serving this project folder (its sessions stay)" },
  },
  async run({ args }) {
    const say = (line: string) => process.stdout.write(line + "\n");
    if (args.all) {
      const replaced = await replaceDaemons({ all: true, say });
      if (!replaced.length) say("no daemon was running");
      return;
    }
    if (!args.name) throw new MsmError("USAGE", `Name a target to restart ("msm restart memory"), or use "msm restart --all".`);
    if (args.name === SUPERVISOR) {
      await restartSupervisor(say);
      return;
    }
    // An unknown or broken name fails here, with the list of known ones or the key that is wrong. The supervisor
    // re-reads the target's config: changed args, env or idle stops apply with this restart.
    const target = resolveTarget(loadConfig(), args.name);
    const manager = await ensureSupervisor();
    const timeoutMs = Math.max(RESTART_TIMEOUT_MS, target.startTimeoutMs + STOP_ALLOWANCE_MS);
    if (args.project) {
      const project = resolve(args.project);
      const answer = await callSupervisor(manager, "restart", { name: args.name, project }, timeoutMs + 60_000);
      say(`restarted ${args.name} for ${(answer.restarted ?? []).join(", ")}`);
      return;
    }
    const endpoint = await callSupervisor(manager, "restart", { name: args.name }, timeoutMs);
    say(`restarted ${args.name}: pid ${endpoint.pid}, ${endpoint.url}`);
  },
});
