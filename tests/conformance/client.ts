// The client side of the conformance suite (@modelcontextprotocol/conformance `client --command`): an editor, the real
// SDK client, reaching the scenario's server through `msm proxy --url` over stdio — or, with --direct, the SDK's own
// HTTP client with no msm in between, the yardstick the proxy is held to.
// Run: bun tests/conformance/client.ts [--direct] [--modern] SERVER_URL   (scenario in MCP_CONFORMANCE_SCENARIO)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const MSM = process.env.MSM_BIN ?? resolve(import.meta.dir, "../../dist/msm");

/** Arguments for the tools the scenarios offer; any other tool is called without arguments. */
const ARGUMENTS: Record<string, Record<string, unknown>> = { add_numbers: { a: 5, b: 3 } };

/**
 * The auth scenarios' servers demand OAuth: they are reached as a remote target (`"url"` in config.json), whose
 * relay does the login the first time a session needs it, in the "browser" below. Everything else: `--url`.
 */
function proxyArgs(url: string): string[] {
  if (!process.env.MCP_CONFORMANCE_SCENARIO?.startsWith("auth/")) return ["--url", url];
  const home = process.env.MSM_HOME;
  if (!home) throw new Error("MSM_HOME must point at a scratch state directory");
  const file = join(home, "config.json");
  const config = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { targets?: Record<string, unknown> }) : {};
  const name = `conformance-${new URL(url).port}`;
  const oauth = clientFromContext(home, name);
  config.targets = { ...config.targets, [name]: { url, ...(oauth ? { oauth } : {}) } };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return ["--target", name];
}

/**
 * A scenario that hands out a client (MCP_CONFORMANCE_CONTEXT) puts it in the target's config, as a user would:
 * pre-registration's for the browser login, the client-credentials ones as a machine client (its secret, or its
 * private key written to a file for private_key_jwt).
 */
function clientFromContext(home: string, name: string): Record<string, string> | undefined {
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO;
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as {
    client_id?: string;
    client_secret?: string;
    private_key_pem?: string;
    signing_algorithm?: string;
  };
  if (!context.client_id) return undefined;
  if (scenario === "auth/pre-registration") return { clientId: context.client_id, clientSecret: context.client_secret! };
  if (scenario === "auth/client-credentials-basic") return { clientId: context.client_id, clientSecret: context.client_secret!, grant: "client_credentials" };
  if (scenario === "auth/client-credentials-jwt") {
    const keyFile = join(home, `${name}.pem`);
    writeFileSync(keyFile, context.private_key_pem!, { mode: 0o600 });
    return { clientId: context.client_id, grant: "client_credentials", privateKeyFile: keyFile, algorithm: context.signing_algorithm! };
  }
  return undefined;
}

/** $BROWSER for the relay's login: a person who approves at once (the scenarios' servers approve without asking). */
function browserEnv(): Record<string, string> {
  const env = { ...process.env } as Record<string, string>;
  if (!env.MSM_HOME) return env;
  const script = join(env.MSM_HOME, "browser.sh");
  writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${resolve(import.meta.dir, "../fixtures/browser.ts")}" "$1"\n`, { mode: 0o755 });
  return { ...env, BROWSER: script };
}

/** A value of the schema's type for every property: the scenarios' tools check what arrives, not what it means. */
function argumentsFor(schema: unknown): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, { type?: string }> } | undefined)?.properties ?? {};
  const types: Record<string, unknown> = { integer: 5, number: 5, boolean: true, array: [], object: {} };
  return Object.fromEntries(Object.entries(properties).map(([key, p]) => [key, types[p.type ?? ""] ?? "value"]));
}

/**
 * --modern: a 2026-07-28 editor, the TypeScript SDK v2 client negotiating the revision (server/discover) through
 * `msm proxy --url` on stdio, or over HTTP itself with --direct.
 */
async function modern(url: string, direct: boolean): Promise<void> {
  const { Client: ModernClient, StreamableHTTPClientTransport: ModernHttp } = await import("@modelcontextprotocol/client");
  const { StdioClientTransport: ModernStdio } = await import("@modelcontextprotocol/client/stdio");
  const transport = direct
    ? new ModernHttp(new URL(url))
    : new ModernStdio({ command: MSM, args: ["proxy", "--url", url], env: process.env as Record<string, string>, stderr: "inherit" });
  const client = new ModernClient({ name: "msm-conformance", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
  await client.connect(transport);
  const { tools } = await client.listTools();
  for (const tool of tools)
    await client.callTool({ name: tool.name, arguments: argumentsFor(tool.inputSchema) }).catch((e: Error) => console.error(`${tool.name}: ${e.message}`));
  await client.close();
}

async function main(): Promise<void> {
  const direct = process.argv.includes("--direct");
  const url = process.argv.filter((a) => !a.startsWith("--")).at(-1);
  if (!url?.startsWith("http")) throw new Error("usage: client.ts [--direct] [--modern] SERVER_URL");
  if (process.argv.includes("--modern")) return modern(url, direct);
  const transport: Transport = direct
    ? new StreamableHTTPClientTransport(new URL(url))
    : new StdioClientTransport({ command: MSM, args: ["proxy", ...proxyArgs(url)], env: browserEnv(), stderr: "inherit" });
  // Elicitation with applyDefaults: the SDK client fills in the schema's defaults (SEP-1034) — through msm the request
  // must arrive intact for that to work.
  const client = new Client({ name: "msm-conformance", version: "1.0.0" }, { capabilities: { elicitation: { form: { applyDefaults: true } } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: {} }));
  await client.connect(transport);
  const { tools } = await client.listTools();
  for (const tool of tools) await client.callTool({ name: tool.name, arguments: ARGUMENTS[tool.name] ?? {} });
  await client.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`conformance client: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
