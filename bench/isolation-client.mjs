// Session B of `bench/isolation.bench.ts`, in a process of its own as a second editor would be: the MCP SDK's stdio
// client spawns `msm proxy` in project B and calls search_nodes back to back until stdin says "stop" (or closes).
// Input: a JSON plan as argv[2] ({ command, args, env, cwd }). Output on stdout: "ready", then one line per call,
// "<start> <end>" in absolute milliseconds (performance.timeOrigin + now(), comparable across processes).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const plan = JSON.parse(process.argv[2]);
const transport = new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, cwd: plan.cwd, stderr: "ignore" });
const client = new Client({ name: "msm-isolation-bench-b", version: "1.0.0" });
await client.connect(transport);
await client.callTool({ name: "create_entities", arguments: { entities: [{ name: "b1", entityType: "t", observations: ["one"] }] } });

let stopping = false;
process.stdin.on("data", (chunk) => {
  if (String(chunk).includes("stop")) stopping = true;
});
process.stdin.on("end", () => (stopping = true));

const now = () => performance.timeOrigin + performance.now();
process.stdout.write("ready\n");
while (!stopping) {
  const start = now();
  const result = await client.callTool({ name: "search_nodes", arguments: { query: "b1" } }, undefined, { timeout: 600_000 });
  const end = now();
  if (result.isError) throw new Error(JSON.stringify(result.content));
  process.stdout.write(`${start.toFixed(3)} ${end.toFixed(3)}\n`);
}
await client.close();
process.exit(0);
