import { defineCommand } from "citty";
import { DAEMON_ARGS, parsePort, takeDaemonTarget } from "../../lib/contracts/daemon-argv.ts";
import { MsmError } from "../../lib/errors.ts";

/** Hidden: the relay of a remote (`"url"`) target, started by the supervisor as `msm remote NAME --detached`. */
export default defineCommand({
  meta: { name: "remote", description: "Run the relay of a remote target (started by msm itself)", hidden: true },
  args: DAEMON_ARGS.remote,
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    // As the supervisor has it in force when it started us; by hand, as config.json says.
    const target = takeDaemonTarget(args.name) ?? resolveTarget(loadConfig(), args.name);
    if (target.kind !== "remote") throw new MsmError("USAGE", `"${args.name}" is not a remote target (it has no "url" in config.json).`);
    const port = args.port !== undefined ? parsePort(args.port) : target.port;
    const { runRelay } = await import("../../remote/index.ts");
    await runRelay({ target, port, detached: args.detached });
  },
});
