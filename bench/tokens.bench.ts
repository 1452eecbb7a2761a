/**
 * How good `msm status --tools`'s token estimate is (`npm run bench -- tokens`): the tool lists of every MCP server
 * installed for the tests — the official everything, filesystem and memory servers, the test fixtures, and the pinned
 * Python servers (git, fetch, time) when `.python/venv` exists — each tool's definition as an editor sends it
 * (src/lib/token-estimate.ts), estimated and counted by real tokenizers (gpt-tokenizer: o200k_base, which the
 * estimate is fitted to, and cl100k_base). Prints the error per tool (mean, 90th percentile, worst) and per server.
 * A tokenizer is a devDependency for this bench only: msm itself ships none.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { encode as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { encode as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { estimateTokens, toolDefinitionText } from "../src/lib/token-estimate.ts";
import { cleanEnv, percentile } from "./lib.ts";

const ROOT = resolve(import.meta.dir, "..");
const NODE = Bun.which("node") ?? "node";
const VENV = join(ROOT, ".python/venv/bin");
const official = (name: string) => join(ROOT, `node_modules/@modelcontextprotocol/server-${name}/dist/index.js`);

const SERVERS: Record<string, string[]> = {
  everything: [NODE, official("everything")],
  filesystem: [NODE, official("filesystem"), ROOT],
  memory: [NODE, official("memory")],
  "workspace (fixture)": [process.execPath, join(ROOT, "tests/fixtures/many-tools-server.ts")],
  "conformance (fixture)": [process.execPath, join(ROOT, "tests/fixtures/conformance-stdio-server.ts")],
  ...(existsSync(VENV) ? { git: [join(VENV, "mcp-server-git")], fetch: [join(VENV, "mcp-server-fetch")], time: [join(VENV, "mcp-server-time")] } : {}),
};

async function toolsOf(command: string[]): Promise<Record<string, unknown>[]> {
  const client = new Client({ name: "bench", version: "1" });
  const env = { ...cleanEnv(), MEMORY_FILE_PATH: join(import.meta.dir, ".bench-memory.jsonl") };
  await client.connect(new StdioClientTransport({ command: command[0]!, args: command.slice(1), env, stderr: "ignore" }));
  const tools: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  await client.close();
  return tools;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const rows: { server: string; estimate: number; o200k: number; cl100k: number }[] = [];
if (!existsSync(VENV)) console.error("(.python/venv missing: the Python servers are left out; tests/python/setup.sh makes it)");
console.log("SERVER                 TOOLS  ESTIMATE  O200K  CL100K  TOTAL vs O200K  vs CL100K");
for (const [server, command] of Object.entries(SERVERS)) {
  const tools = await toolsOf(command);
  const mine = tools.map((tool) => {
    const text = toolDefinitionText(tool);
    return { server, estimate: estimateTokens(text), o200k: o200k(text).length, cl100k: cl100k(text).length };
  });
  rows.push(...mine);
  const sum = (key: "estimate" | "o200k" | "cl100k") => mine.reduce((total, row) => total + row[key], 0);
  console.log(
    `${server.padEnd(22)} ${String(tools.length).padStart(5)} ${String(sum("estimate")).padStart(9)} ${String(sum("o200k")).padStart(6)} ${String(sum("cl100k")).padStart(7)}` +
      `  ${pct((sum("estimate") - sum("o200k")) / sum("o200k")).padStart(14)} ${pct((sum("estimate") - sum("cl100k")) / sum("cl100k")).padStart(10)}`,
  );
}
for (const key of ["o200k", "cl100k"] as const) {
  const errors = rows.map((row) => Math.abs(row.estimate - row[key]) / row[key]);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  console.log(
    `per tool vs ${key}: mean ${pct(mean)}, 90th percentile ${pct(percentile(errors, 0.9))}, worst ${pct(Math.max(...errors))} (${rows.length} tools)`,
  );
}
