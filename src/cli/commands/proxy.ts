import { defineCommand } from "citty";
import { TRANSPORTS, type Transport } from "../../lib/contracts/lock-file.ts";
import { flagValues } from "../args.ts";

/** `--header` may be given many times. */
export const collectHeaders = (rawArgs: string[]): string[] => flagValues(rawArgs, "header", "H");

export default defineCommand({
  meta: {
    name: "proxy",
    description:
      "Bridge this editor session (stdio) to a target's shared daemon (started if needed), to several targets at once with --profile, or to any MCP HTTP server with --url",
  },
  args: {
    target: { type: "string", description: 'Target name from config.json, or the built-in "memory"' },
    profile: {
      type: "string",
      description:
        'Profile name from config.json: one session in front of its targets, tools named TARGET__TOOL, or found with find_tools in "search" mode (docs/profiles.md)',
    },
    url: { type: "string", description: "Reach this MCP HTTP server directly, without config (e.g. http://127.0.0.1:3001/mcp)" },
    transport: { type: "enum", options: [...TRANSPORTS], description: "streamable-http (default), sse (2024-11-05 HTTP+SSE) or http (plain JSON POST)" },
    header: { type: "string", alias: "H", description: 'Extra request header "Name: value"; repeat for more' },
    project: {
      type: "string",
      description: "Absolute project directory sent to the daemon (default: $MSM_PROJECT_DIR or $CLAUDE_PROJECT_DIR, else the nearest .git/.claude ancestor)",
    },
    "send-project": {
      type: "boolean",
      description: "With --url: send the project path to a server that is not on this machine too (loopback servers always get it)",
    },
  },
  async run({ args, rawArgs }) {
    const { MsmError } = await import("../../lib/errors.ts");
    // --transport was checked with every flag (cli/args.ts), not with the config schema: `--url` sessions never load
    // zod or the config at all.
    const transport = args.transport as Transport | undefined;
    if (!args.target && !args.url && !args.profile)
      throw new MsmError("USAGE", 'msm proxy needs --target NAME, --profile NAME or --url URL. Run "msm proxy --help" for usage.');
    if ([args.target, args.url, args.profile].filter(Boolean).length > 1)
      throw new MsmError("USAGE", 'msm proxy takes one of --target, --profile and --url. Run "msm proxy --help" for usage.');
    const { runProxy, flushStdout } = await import("../../proxy/index.ts");
    const code = await runProxy({
      target: args.target,
      profile: args.profile,
      url: args.url,
      transport,
      headers: collectHeaders(rawArgs),
      project: args.project,
      sendProject: Boolean(args["send-project"]),
      signals: true,
    });
    await flushStdout();
    process.exit(code);
  },
});
