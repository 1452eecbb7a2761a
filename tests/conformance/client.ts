// The client side of the conformance suite (@modelcontextprotocol/conformance `client --command`): an editor, the real
// SDK client, reaching the scenario's server through `msm proxy --url` over stdio — or, with --direct, the SDK's own
// HTTP client with no msm in between, the yardstick the proxy is held to.
// Run: bun tests/conformance/client.ts [--direct] SERVER_URL   (scenario name in MCP_CONFORMANCE_SCENARIO)
import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const MSM = process.env.MSM_BIN ?? resolve(import.meta.dir, "../../dist/msm");

/** Arguments for the tools the scenarios offer; any other tool is called without arguments. */
const ARGUMENTS: Record<string, Record<string, unknown>> = { add_numbers: { a: 5, b: 3 } };

async function main(): Promise<void> {
  const direct = process.argv.includes("--direct");
  const url = process.argv.filter((a) => !a.startsWith("--")).at(-1);
  if (!url?.startsWith("http")) throw new Error("usage: client.ts [--direct] SERVER_URL");
  const transport: Transport = direct
    ? new StreamableHTTPClientTransport(new URL(url))
    : new StdioClientTransport({ command: MSM, args: ["proxy", "--url", url], env: process.env as Record<string, string>, stderr: "inherit" });
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
