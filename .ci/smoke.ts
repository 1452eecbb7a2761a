/**
 * Smoke test of one built binary on the machine it is meant for: `msm --version`, then an editor session
 * (the real MCP SDK client over stdio) → proxy → memory daemon round trip, in a throwaway MSM_HOME.
 *   bun .ci/smoke.ts dist/targets/linux-x64/msm [expected-version]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const binary = resolve(process.argv[2] ?? "dist/msm");
const expected = process.argv[3];
const root = mkdtempSync(join(tmpdir(), "msm-smoke-"));
const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
Object.assign(env, { HOME: root, USERPROFILE: root, MSM_HOME: join(root, ".mcp-session-manager"), MSM_PROJECT_DIR: root });

function run(args: string[]): string {
  const result = Bun.spawnSync([binary, ...args], { env, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`msm ${args.join(" ")} exited ${result.exitCode}: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

try {
  const version = run(["--version"]);
  console.log(`msm --version: ${version}`);
  if (expected && !version.startsWith(`${expected} `)) throw new Error(`expected version ${expected}`);

  const client = new Client({ name: "msm-smoke", version: "1" });
  await client.connect(new StdioClientTransport({ command: binary, args: ["proxy", "--target", "memory"], env, cwd: root }));
  await client.callTool({ name: "create_entities", arguments: { entities: [{ name: "smoke", entityType: "test", observations: ["it works"] }] } });
  const graph = await client.callTool({ name: "read_graph", arguments: {} });
  const text = JSON.stringify(graph.structuredContent);
  if (!text.includes("it works")) throw new Error(`read_graph did not return what was written: ${text}`);
  await client.close();
  console.log("proxy -> memory round trip: ok");
} finally {
  try {
    run(["stop", "--all"]);
  } catch (error) {
    console.error(String(error));
  }
  rmSync(root, { recursive: true, force: true });
}
