import { defineCommand } from "citty";
import { SCOPES, type Scope } from "../../install/client.ts";
import { CLIENT_NAMES } from "../../install/clients/index.ts";
import { install } from "../../install/index.ts";
import { strictArgs } from "../strict-args.ts";

export default defineCommand({
  meta: {
    name: "install",
    description: `Wire every target into editors' MCP config (${CLIENT_NAMES.join(", ")}); with no CLIENT, every editor found`,
  },
  args: {
    client: { type: "positional", required: false, description: "Editors to set up (several allowed); default: every one found on this machine" },
    scope: { type: "string", default: "user", description: "user (your own config), project (this folder's .mcp.json, .cursor/, .vscode/, .codex/) or local (Claude Code: this folder, in ~/.claude.json)" },
    target: { type: "string", description: "Only these targets (repeat, or comma-separate); default: every target" },
    command: { type: "string", description: 'Command in the entry instead of this binary\'s absolute path (e.g. "msm" for a shared .mcp.json)' },
    "dry-run": { type: "boolean", description: "Print the diff; write nothing" },
  },
  run({ rawArgs }) {
    const args = strictArgs("install", rawArgs, { values: ["scope", "command"], lists: ["target"], booleans: ["dry-run"], choices: { scope: SCOPES } });
    const reports = install({
      clients: args.positionals,
      scope: (args.values.scope ?? "user") as Scope,
      targets: args.lists.target!,
      command: args.values.command,
      dryRun: Boolean(args.booleans["dry-run"]),
    });
    // A file that could not be changed was reported with the others; the run as a whole did not fully succeed.
    if (reports.some((r) => r.error)) process.exitCode = 1;
  },
});
