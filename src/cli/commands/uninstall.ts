import { defineCommand } from "citty";
import { SCOPES, uninstall } from "../../install/index.ts";
import { many } from "../args.ts";

export default defineCommand({
  meta: {
    name: "uninstall",
    description: "Remove msm's entries from editors' MCP config and put back every entry msm import replaced",
  },
  args: {
    client: many({ type: "positional", required: false, description: "Editors to clean (several allowed); default: every one with a config file" }),
    scope: {
      type: "enum",
      options: [...SCOPES],
      default: "user",
      description: "user, project (this folder) or local (Claude Code: this folder in ~/.claude.json)",
    },
    "dry-run": { type: "boolean", description: "Print the diff; write nothing" },
  },
  async run({ args }) {
    const reports = await uninstall({ clients: args._, scope: args.scope, dryRun: Boolean(args["dry-run"]) });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
