import { defineCommand } from "citty";
import { MsmError } from "../../lib/errors.ts";

export default defineCommand({
  meta: { name: "logout", description: "Forget the login of a remote target (its tokens are deleted from MSM_HOME)" },
  args: {
    name: { type: "positional", description: "Remote target from config.json", required: true },
  },
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    const target = resolveTarget(loadConfig(), args.name);
    if (target.kind !== "remote") throw new MsmError("USAGE", `"${args.name}" is not a remote target: only targets with a "url" in config.json log in.`);
    const { forgetLogin } = await import("../../remote/index.ts");
    const had = forgetLogin(args.name);
    process.stdout.write(had ? `Logged out of ${args.name}.\n` : `${args.name} was not logged in.\n`);
  },
});
