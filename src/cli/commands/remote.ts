import { defineCommand } from "citty";
import { MsmError } from "../../lib/errors.ts";

/** Hidden: the relay of a remote (`"url"`) target, started by the supervisor as `msm remote NAME --detached`. */
export default defineCommand({
  meta: { name: "remote", description: "Run the relay of a remote target (started by msm itself)", hidden: true },
  args: {
    name: { type: "positional", description: "Remote target from config.json", required: true },
    port: { type: "string", description: "Preferred port (default: the target's port in config.json, else any free one)" },
    detached: { type: "boolean", description: "Started by msm itself: log to the log file only", default: false },
  },
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    const target = resolveTarget(loadConfig(), args.name);
    if (target.kind !== "remote") throw new MsmError("USAGE", `"${args.name}" is not a remote target (it has no "url" in config.json).`);
    const port = args.port !== undefined ? Number(args.port) : target.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MsmError("USAGE", `--port "${args.port}" is not a port number.`);
    const { runRelay } = await import("../../remote/daemon.ts");
    await runRelay({ target, port, detached: args.detached });
  },
});
