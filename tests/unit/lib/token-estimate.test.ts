import { expect, test } from "bun:test";
import { estimateTokens, toolDefinitionText, toolTokens } from "../../../src/lib/token-estimate.ts";
import { TOOLS } from "../../fixtures/many-tools-server.ts";

// o200k_base counts of these texts, measured with gpt-tokenizer by bench/tokens.bench.ts (which re-measures every
// server's tools against the tokenizers): the estimate must stay within its documented error of them.
const O200K_WORKSPACE_TOTAL = 4042;

test("a tool is counted as an editor sends it: name, description and input schema as JSON", () => {
  const tool = { name: "echo", description: "Echoes", inputSchema: { type: "object" }, annotations: { title: "x" }, outputSchema: { type: "object" } };
  expect(toolDefinitionText(tool)).toBe('{"name":"echo","description":"Echoes","input_schema":{"type":"object"}}');
  expect(toolTokens(tool)).toBe(estimateTokens(toolDefinitionText(tool)));
  expect(toolDefinitionText({ name: "bare" })).toBe('{"name":"bare","description":"","input_schema":{}}');
});

test("the 40 tools of the workspace fixture: within 2 % of o200k_base in total", () => {
  const tools = TOOLS.map(([name, description, inputSchema]) => ({ name, description, inputSchema }));
  const total = tools.reduce((sum, tool) => sum + toolTokens(tool), 0);
  expect(Math.abs(total - O200K_WORKSPACE_TOTAL) / O200K_WORKSPACE_TOTAL).toBeLessThan(0.02);
});

test("plain text, numbers and text outside ASCII get sensible counts", () => {
  expect(estimateTokens("")).toBe(0);
  // o200k_base: 10, 3 and 6 tokens.
  expect(estimateTokens("The quick brown fox jumps over the lazy dog.")).toBeGreaterThanOrEqual(7);
  expect(estimateTokens("The quick brown fox jumps over the lazy dog.")).toBeLessThanOrEqual(11);
  expect(estimateTokens("123456789")).toBe(3);
  expect(estimateTokens("日本語のテキスト")).toBeGreaterThanOrEqual(6);
});
