import { defineCommand } from "citty";
import { SCOPES, CLIENT_NAMES, install } from "../../install/index.ts";
import { flagValues, many } from "../args.ts";

export default defineCommand({
  meta: {
    name: "install",
    description: `Wire every target into editors' MCP config (${CLIENT_NAMES.join(", ")}); with no CLIENT, every editor found`,
  },
  args: {
    client: many({ type: "positional", required: false, description: "Editors to set up (several allowed); default: every one found on this machine" }),
    scope: {
      type: "enum",
      options: [...SCOPES],
      default: "user",
      description:
        "user (your own config), project (this folder's .mcp.json, .cursor/, .vscode/, .codex/) or local (Claude Code: this folder, in ~/.claude.json)",
    },
    target: { type: "string", description: "Only these targets (repeat, or comma-separate); default: every target" },
    profile: { type: "string", description: "One entry for this profile of config.json instead of one per target (docs/profiles.md)" },
    command: { type: "string", description: 'Command in the entry instead of this binary\'s absolute path (e.g. "msm" for a shared .mcp.json)' },
    "dry-run": { type: "boolean", description: "Print the diff; write nothing" },
  },
  run({ args, rawArgs }) {
    const reports = install({
      clients: args._,
      scope: args.scope,
      targets: flagValues(rawArgs, "target").flatMap((value) => value.split(",").filter(Boolean)),
      profile: args.profile,
      command: args.command,
      dryRun: Boolean(args["dry-run"]),
    });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
