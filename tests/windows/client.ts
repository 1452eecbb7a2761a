// The MCP client side of the Windows smoke test. It runs INSIDE Wine, under the Windows bun.exe, because a Linux
// process's pipes as msm.exe's stdio break Bun's stdin under Wine: an editor on Windows spawns msm.exe with Windows
// pipes, and so does this. Bundled (with the SDK) by run.ts; invoked as
//   bun.exe client.js <plan.json>
// and writes what it saw to the plan's `out` file (stdout is Wine's, not ours). The checks are made by run.ts.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { readFileSync, writeFileSync } from "node:fs";

interface Plan {
  out: string;
  msm: string;
  /** "memory": a full memory session per project; "argv": call the hosted echo server's `argv` tool. */
  kind: "memory" | "argv";
  target: string;
  /** Sessions to open at once, one per entry (a project folder each). */
  projects: string[];
}

/** Per request: a failing msm.exe fails the check in seconds, not after the SDK's 60 s, so a broken run stays short. */
const TIMEOUT = { timeout: 30_000 };

type Result = { project: string; ok: boolean; steps: Record<string, unknown>; error?: string };

const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Plan;

async function open(project: string): Promise<Client> {
  const transport = new StdioClientTransport({ command: plan.msm, args: ["proxy", "--target", plan.target], cwd: project, env: process.env as Record<string, string>, stderr: "ignore" });
  const client = new Client({ name: "msm-windows-smoke", version: "1.0.0" });
  await client.connect(transport, TIMEOUT);
  return client;
}

function structured(result: Record<string, unknown>): unknown {
  if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content)}`);
  return result.structuredContent;
}

async function memorySession(client: Client, project: string, steps: Record<string, unknown>): Promise<void> {
  const tag = project.split("\\").pop()!;
  steps.tools = (await client.listTools(undefined, TIMEOUT)).tools.map((t) => t.name).sort();
  const call = async (name: string, args: Record<string, unknown>) => structured(await client.callTool({ name, arguments: args }, undefined, TIMEOUT));
  // Several writes and reads in a row: on Windows the second call used to fail (chmod of the open memory.db-shm).
  steps.created = await call("create_entities", { entities: [{ name: `Alice ${tag}`, entityType: "person", observations: ["likes tea"] }, { name: "Bob", entityType: "person", observations: [] }] });
  steps.related = await call("create_relations", { relations: [{ from: `Alice ${tag}`, to: "Bob", relationType: "knows" }] });
  steps.observed = await call("add_observations", { observations: [{ entityName: "Bob", contents: ["drinks coffee", "café au lait"] }] });
  steps.graph = await call("read_graph", {});
  steps.search = await call("search_nodes", { query: "coffee" });
  steps.opened = await call("open_nodes", { names: [`Alice ${tag}`] });
  steps.stats = await call("memory_stats", {});
}

async function session(project: string): Promise<Result> {
  const steps: Record<string, unknown> = {};
  let client: Client | undefined;
  try {
    client = await open(project);
    steps.server = client.getServerVersion()?.name;
    if (plan.kind === "memory") await memorySession(client, project, steps);
    else steps.argv = structured(await client.callTool({ name: "argv", arguments: {} }, undefined, TIMEOUT));
    return { project, ok: true, steps };
  } catch (error) {
    return { project, ok: false, steps, error: String((error as Error)?.stack ?? error) };
  } finally {
    await client?.close().catch(() => {});
  }
}

const results = await Promise.all(plan.projects.map(session));
writeFileSync(plan.out, JSON.stringify(results, null, 2));
process.exit(0);
