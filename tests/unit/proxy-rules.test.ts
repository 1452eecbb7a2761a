import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcMessage } from "../../src/lib/jsonrpc/messages.ts";
import { sessionRules } from "../../src/proxy/rules.ts";

// The proxy's side of the tool rules, in process: what it answers itself, what it filters, what it leaves alone.
let dir: string;
let home: string | undefined;
const warnings: string[] = [];
const log = { debug: () => {}, info: () => {}, warn: (...args: unknown[]) => void warnings.push(args.join(" ")) };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "msm-rules-"));
  home = process.env.MSM_HOME;
  process.env.MSM_HOME = dir;
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      targets: {
        ws: { command: "x", tools: { allow: ["keep_*"] }, prompts: { deny: ["admin_*"] }, resources: { deny: ["secret://*"] } },
        plain: { command: "x" },
        broken: { command: "x", prompts: { allow: "x" } },
      },
    }),
  );
});
afterAll(() => {
  process.env.MSM_HOME = home;
  rmSync(dir, { recursive: true, force: true });
});

const request = (id: number, method: string, params: object = {}): JsonRpcMessage => ({ jsonrpc: "2.0", id, method, params });

test("without rules (or without a target) every message passes as the same object", () => {
  for (const rules of [sessionRules("plain", undefined, log), sessionRules(undefined, undefined, log)]) {
    const call = request(1, "tools/call", { name: "anything" });
    expect(rules.fromEditor(call)).toBeUndefined();
    const answer = { jsonrpc: "2.0" as const, id: 1, result: { tools: [{ name: "x" }] } };
    expect(rules.toEditor(answer)).toBe(answer);
  }
});

test("list answers are filtered by the id of the request they answer; other answers pass untouched", () => {
  const rules = sessionRules("ws", undefined, log);
  expect(rules.fromEditor(request(1, "tools/list"))).toBeUndefined();
  const page = { jsonrpc: "2.0" as const, id: 1, result: { tools: [{ name: "keep_a" }, { name: "drop" }], nextCursor: "c" } };
  expect(rules.toEditor(page)).toEqual({ jsonrpc: "2.0", id: 1, result: { tools: [{ name: "keep_a" }], nextCursor: "c" } });
  // The id is forgotten once answered: a later answer with that id (not a list) passes.
  const later = { jsonrpc: "2.0" as const, id: 1, result: { tools: [{ name: "drop" }] } };
  expect(rules.toEditor(later)).toBe(later);
  // A list whose entries are all shown passes as the same object (the server's own text is written as is).
  rules.fromEditor(request(2, "tools/list"));
  const clean = { jsonrpc: "2.0" as const, id: 2, result: { tools: [{ name: "keep_b" }] } };
  expect(rules.toEditor(clean)).toBe(clean);
  // A cancelled list request is forgotten.
  rules.fromEditor(request(3, "tools/list"));
  rules.fromEditor({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3 } });
  const late = { jsonrpc: "2.0" as const, id: 3, result: { tools: [{ name: "drop" }] } };
  expect(rules.toEditor(late)).toBe(late);
  // Server requests and notifications pass.
  const changed = { jsonrpc: "2.0" as const, method: "notifications/tools/list_changed" };
  expect(rules.toEditor(changed)).toBe(changed);
});

test("requests naming something hidden are answered by msm: calls, prompts, completion, reads and subscriptions", () => {
  const rules = sessionRules("ws", undefined, log);
  const code = (m: JsonRpcMessage | undefined) => (m?.error as { code: number } | undefined)?.code;
  expect(code(rules.fromEditor(request(1, "tools/call", { name: "drop" })))).toBe(-32602);
  expect(rules.fromEditor(request(2, "tools/call", { name: "keep_a" }))).toBeUndefined();
  expect(code(rules.fromEditor(request(3, "prompts/get", { name: "admin_audit" })))).toBe(-32602);
  expect(
    code(rules.fromEditor(request(4, "completion/complete", { ref: { type: "ref/prompt", name: "admin_audit" }, argument: { name: "a", value: "" } }))),
  ).toBe(-32602);
  expect(
    rules.fromEditor(request(5, "completion/complete", { ref: { type: "ref/prompt", name: "daily" }, argument: { name: "a", value: "" } })),
  ).toBeUndefined();
  expect(code(rules.fromEditor(request(6, "resources/read", { uri: "secret://tokens" })))).toBe(-32002);
  expect(code(rules.fromEditor(request(7, "resources/subscribe", { uri: "secret://tokens" })))).toBe(-32002);
  expect(
    code(
      rules.fromEditor(request(8, "completion/complete", { ref: { type: "ref/resource", uri: "secret://keys/{id}" }, argument: { name: "id", value: "" } })),
    ),
  ).toBe(-32002);
  expect(rules.fromEditor(request(9, "resources/read", { uri: "file:///a" }))).toBeUndefined();
  // An update about a hidden resource never reaches the editor; others do.
  expect(rules.toEditor({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "secret://tokens" } })).toBeUndefined();
  const shown = { jsonrpc: "2.0" as const, method: "notifications/resources/updated", params: { uri: "file:///a" } };
  expect(rules.toEditor(shown)).toBe(shown);
});

test("rules that cannot be read: their kind's lists and requests are refused with the reason, stderr says so", () => {
  warnings.length = 0;
  const rules = sessionRules("broken", undefined, log);
  expect(warnings.join("\n")).toContain('the prompt rules of target "broken" are invalid (targets.broken.prompts.allow: expected array');
  const list = rules.fromEditor(request(1, "prompts/list"));
  expect((list!.error as { code: number; message: string }).message).toContain("no prompt of it is shown until they are fixed");
  expect(rules.fromEditor(request(2, "prompts/get", { name: "any" }))).toBeDefined();
  expect(rules.fromEditor(request(3, "tools/list"))).toBeUndefined();
});

test("a project file someone else could have written is not used, and stderr says why", () => {
  warnings.length = 0;
  const project = join(dir, "project");
  mkdirSync(project);
  const elsewhere = join(dir, "elsewhere");
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, "msm.json"), JSON.stringify({ targets: { ws: { tools: { allow: [] } } } }));
  symlinkSync(elsewhere, join(project, ".claude"));
  const rules = sessionRules("ws", project, log);
  expect(warnings.join("\n")).toContain(`${join(project, ".claude", "msm.json")} is not used for tool rules`);
  expect(rules.fromEditor(request(1, "tools/call", { name: "keep_a" }))).toBeUndefined();
});
