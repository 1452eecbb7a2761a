import { defineCommand } from "citty";
import { SCOPES, type Scope } from "../../install/client.ts";
import { CLIENT_NAMES } from "../../install/clients/index.ts";
import { importServers } from "../../install/index.ts";
import { strictArgs } from "../strict-args.ts";

/** How a hosted server is shared: one child per project (the safe default), per session, or one for everything. */
const SHARES = ["project", "session", "global"] as const;

export default defineCommand({
  meta: {
    name: "import",
    description: "Move an editor's stdio MCP servers behind msm: each becomes a shared msm target, its entry an msm proxy entry",
  },
  args: {
    client: { type: "positional", required: false, description: `Editors to import from (${CLIENT_NAMES.join(", ")}); default: every one with a config file` },
    scope: { type: "string", default: "user", description: "user, project (this folder) or local (Claude Code: this folder in ~/.claude.json)" },
    share: { type: "string", default: "project", description: "project (one server per project), session or global" },
    "dry-run": { type: "boolean", description: "Print the diffs; write nothing" },
  },
  run({ rawArgs }) {
    const args = strictArgs("import", rawArgs, { values: ["scope", "share"], booleans: ["dry-run"], choices: { scope: SCOPES, share: SHARES } });
    const reports = importServers({
      clients: args.positionals,
      scope: (args.values.scope ?? "user") as Scope,
      share: args.values.share ?? "project",
      dryRun: Boolean(args.booleans["dry-run"]),
    });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
