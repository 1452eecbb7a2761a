import { defineCommand } from "citty";
import { SCOPES, CLIENT_NAMES, importServers } from "../../install/index.ts";
import { many } from "../args.ts";

/** How a hosted server is shared: one child per project (the safe default), per session, or one for everything. */
const SHARES = ["project", "session", "global"] as const;

export default defineCommand({
  meta: {
    name: "import",
    description:
      "Move an editor's stdio MCP servers behind msm: each becomes a shared msm target, its entry an msm proxy entry; ${VAR} and envFile stay references, a secret in clear goes to the OS keychain",
  },
  args: {
    client: many({
      type: "positional",
      required: false,
      description: `Editors to import from (${CLIENT_NAMES.join(", ")}); default: every one with a config file`,
    }),
    scope: {
      type: "enum",
      options: [...SCOPES],
      default: "user",
      description: "user, project (this folder) or local (Claude Code: this folder in ~/.claude.json)",
    },
    share: { type: "enum", options: [...SHARES], default: "project", description: "project (one server per project), session or global" },
    "dry-run": { type: "boolean", description: "Print the diffs; write nothing" },
  },
  async run({ args }) {
    const reports = await importServers({
      clients: args._,
      scope: args.scope,
      share: args.share,
      dryRun: Boolean(args["dry-run"]),
    });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
