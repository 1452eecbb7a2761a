import { defineCommand } from "citty";
import { MsmError } from "../../lib/errors.ts";

export default defineCommand({
  meta: { name: "login", description: "Log in to a remote target (OAuth in the browser, or client credentials; once for every session)" },
  args: {
    name: { type: "positional", description: 'Remote target from config.json (one with a "url")', required: true },
  },
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    const target = resolveTarget(loadConfig(), args.name);
    if (target.kind !== "remote") throw new MsmError("USAGE", `"${args.name}" is not a remote target: only targets with a "url" in config.json log in.`);
    // The login goes where the relay goes: the URL and OAuth client with their references resolved as it resolves them.
    const { resolveRemoteStrings } = await import("../../lib/secrets/resolve.ts");
    const { strings } = await resolveRemoteStrings(target);
    const oauth = target.oauth && strings.clientSecret !== undefined ? { ...target.oauth, clientSecret: strings.clientSecret } : target.oauth;
    const { login, loginState } = await import("../../remote/index.ts");
    await login({ ...target, url: strings.url, headers: strings.headers, oauth }, (url) =>
      process.stdout.write(`Open this address to log in to ${args.name}:\n${url}\n`),
    );
    const state = loginState(args.name, target.oauth?.grant === "client_credentials");
    const until = state.expiresAt
      ? ` (access token valid until ${new Date(state.expiresAt).toLocaleString()}${state.refreshable ? ", refreshed by msm" : ""})`
      : "";
    process.stdout.write(`Logged in to ${args.name}${until}. Every session uses this login.\n`);
  },
});
