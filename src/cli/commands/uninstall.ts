import { defineCommand } from "citty";
import { SCOPES, type Scope } from "../../install/client.ts";
import { uninstall } from "../../install/index.ts";
import { strictArgs } from "../strict-args.ts";

export default defineCommand({
  meta: {
    name: "uninstall",
    description: "Remove msm's entries from editors' MCP config and put back every entry msm import replaced",
  },
  args: {
    client: { type: "positional", required: false, description: "Editors to clean (several allowed); default: every one with a config file" },
    scope: { type: "string", default: "user", description: "user, project (this folder) or local (Claude Code: this folder in ~/.claude.json)" },
    "dry-run": { type: "boolean", description: "Print the diff; write nothing" },
  },
  run({ rawArgs }) {
    const args = strictArgs("uninstall", rawArgs, { values: ["scope"], booleans: ["dry-run"], choices: { scope: SCOPES } });
    const reports = uninstall({ clients: args.positionals, scope: (args.values.scope ?? "user") as Scope, dryRun: Boolean(args.booleans["dry-run"]) });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
