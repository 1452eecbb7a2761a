import { expect, test } from "bun:test";
import { readConfig } from "../../../src/lib/config.ts";
import {
  decide,
  emptyRules,
  filterList,
  globMatch,
  hiddenAnswer,
  hiddenText,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  ruleSetProblem,
  rulesFor,
  type TargetRules,
} from "../../../src/lib/tool-rules.ts";

test("globs: * is any run of characters (none, slashes included), ? exactly one, the rest literal and case-sensitive", () => {
  const cases: [string, string, boolean][] = [
    ["slack_*", "slack_post_message", true],
    ["slack_*", "slack_", true],
    ["slack_*", "slac", false],
    ["*_message", "slack_post_message", true],
    ["*post*", "slack_post_message", true],
    ["*post*", "slack_get", false],
    ["get_?", "get_a", true],
    ["get_?", "get_", false],
    ["get_?", "get_ab", false],
    ["exact", "exact", true],
    ["exact", "Exact", false],
    ["exact", "exactly", false],
    ["*", "", true],
    ["*", "anything/at/all", true],
    ["", "", true],
    ["", "x", false],
    ["file:///repo/*", "file:///repo/src/a.ts", true],
    ["file:///repo/*.md", "file:///repo/docs/a.md", true],
    ["file:///repo/*.md", "file:///repo/docs/a.ts", false],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXcYYb", false],
    ["**a", "bbba", true],
    ["a.b", "aXb", false],
    ["(x)+[y]", "(x)+[y]", true],
  ];
  for (const [pattern, text, expected] of cases) expect({ pattern, text, match: globMatch(pattern, text) }).toEqual({ pattern, text, match: expected });
});

test("globs full of stars stay fast on long names (no backtracking blow-up)", () => {
  const started = performance.now();
  expect(globMatch(`${"*a".repeat(40)}*b`, "a".repeat(5000))).toBe(false);
  expect(performance.now() - started).toBeLessThan(2000);
});

const layer = (allow: string[] | undefined, deny: string[] | undefined, file = "/home/u/.mcp-session-manager/config.json") => ({
  ...(allow ? { allow } : {}),
  ...(deny ? { deny } : {}),
  file,
  key: "targets.slack.tools",
});

const rulesOf = (...layers: ReturnType<typeof layer>[]): TargetRules => ({ target: "slack", layers: { tools: layers }, broken: {} });

test("decide: allow lists what is shown, deny hides whatever allow says, no rules show everything", () => {
  expect(decide(emptyRules("slack"), "tools", "anything")).toBeUndefined();
  const rules = rulesOf(layer(["slack_*", "search"], ["slack_admin_*"]));
  expect(decide(rules, "tools", "slack_post_message")).toBeUndefined();
  expect(decide(rules, "tools", "search")).toBeUndefined();
  expect(decide(rules, "tools", "slack_admin_delete")).toEqual({
    by: "deny",
    pattern: "slack_admin_*",
    file: rules.layers.tools![0]!.file,
    key: "targets.slack.tools",
  });
  expect(decide(rules, "tools", "github_push")).toMatchObject({ by: "allow", patterns: ["slack_*", "search"] });
  // deny alone hides only what it names; an empty allow list shows nothing.
  expect(decide(rulesOf(layer(undefined, ["x"])), "tools", "y")).toBeUndefined();
  expect(decide(rulesOf(layer([], undefined)), "tools", "y")).toMatchObject({ by: "allow", patterns: [] });
  // Rules of one kind say nothing about another.
  expect(decide(rules, "prompts", "github_push")).toBeUndefined();
});

test("a later layer (the project's) can only hide more: its allow never shows what the user's rules hid", () => {
  const user = layer(["slack_*"], ["slack_admin_*"]);
  const project = layer(["*"], undefined, "/repo/.claude/msm.json");
  const rules = rulesOf(user, project);
  expect(decide(rules, "tools", "slack_admin_delete")).toMatchObject({ by: "deny", file: user.file });
  expect(decide(rules, "tools", "github_push")).toMatchObject({ by: "allow", file: user.file });
  const narrowing = rulesOf(user, layer(["slack_post_*"], ["*_dm"], "/repo/.claude/msm.json"));
  expect(decide(narrowing, "tools", "slack_post_message")).toBeUndefined();
  expect(decide(narrowing, "tools", "slack_post_dm")).toMatchObject({ by: "deny", pattern: "*_dm", file: "/repo/.claude/msm.json" });
  expect(decide(narrowing, "tools", "slack_list_channels")).toMatchObject({ by: "allow", file: "/repo/.claude/msm.json" });
});

test("filterList keeps the page's other keys, hides by the field each list is known by, and leaves its input alone", () => {
  const rules: TargetRules = {
    target: "t",
    layers: { tools: [layer(["keep_*"], undefined)], resources: [{ deny: ["secret://*"], file: "f", key: "targets.t.resources" }] },
    broken: {},
  };
  const page = { tools: [{ name: "keep_a" }, { name: "drop_b" }, { name: "keep_c" }, { description: "no name" }], nextCursor: "2", _meta: { x: 1 } };
  const { result, hidden } = filterList(rules, "tools/list", page);
  expect(hidden).toBe(2);
  expect(result).toEqual({ tools: [{ name: "keep_a" }, { name: "keep_c" }], nextCursor: "2", _meta: { x: 1 } });
  expect(page.tools).toHaveLength(4);
  // An empty page still leads on.
  expect(filterList(rules, "tools/list", { tools: [{ name: "drop" }], nextCursor: "3" }).result).toEqual({ tools: [], nextCursor: "3" });
  expect(filterList(rules, "resources/list", { resources: [{ uri: "secret://a" }, { uri: "file:///b" }] }).result).toEqual({
    resources: [{ uri: "file:///b" }],
  });
  expect(
    filterList(rules, "resources/templates/list", { resourceTemplates: [{ uriTemplate: "secret://{id}" }, { uriTemplate: "file:///{path}" }] }).result,
  ).toEqual({
    resourceTemplates: [{ uriTemplate: "file:///{path}" }],
  });
  // Prompts have no rules here: untouched.
  expect(filterList(rules, "prompts/list", { prompts: [{ name: "p" }] })).toEqual({ result: { prompts: [{ name: "p" }] }, hidden: 0 });
});

test("the refusal names the item, the rule and the file, with MCP's codes", () => {
  const rules = rulesOf(layer(["slack_*"], ["slack_admin_*"]));
  const denied = hiddenAnswer(7, "slack", "tools", "slack_admin_delete", decide(rules, "tools", "slack_admin_delete")!);
  expect(denied).toEqual({
    jsonrpc: "2.0",
    id: 7,
    error: {
      code: -32602,
      message:
        'msm: the tool "slack_admin_delete" of target "slack" is hidden by the pattern "slack_admin_*" in "deny" of targets.slack.tools in /home/u/.mcp-session-manager/config.json',
      data: {
        hiddenBy: { file: "/home/u/.mcp-session-manager/config.json", key: "targets.slack.tools.deny", pattern: "slack_admin_*" },
        name: "slack_admin_delete",
      },
    },
  });
  expect(hiddenText("slack", "tools", "github_push", decide(rules, "tools", "github_push")!)).toBe(
    'msm: the tool "github_push" of target "slack" is hidden: it matches no pattern in "allow" ("slack_*") of targets.slack.tools in /home/u/.mcp-session-manager/config.json',
  );
  const resource = hiddenAnswer("r", "fs", "resources", "secret://x", { by: "deny", pattern: "secret://*", file: "f", key: "targets.fs.resources" });
  expect((resource.error as { code: number }).code).toBe(-32002);
  expect((resource.error as { data: unknown }).data).toMatchObject({ uri: "secret://x" });
});

test("the proxy's reader and config.ts's zod schema say the same about every rule object", () => {
  const samples: unknown[] = [
    { allow: ["a", "b*"], deny: ["c"] },
    {},
    { allow: [] },
    { deny: ["x"] },
    { alow: ["a"] },
    { allow: "a" },
    { allow: [1] },
    { allow: [""] },
    { deny: ["x".repeat(MAX_PATTERN_LENGTH + 1)] },
    { deny: ["x".repeat(MAX_PATTERN_LENGTH)] },
    { allow: Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `p${i}`) },
    ["a"],
    "a",
    null,
  ];
  for (const sample of samples) {
    const config = readConfig(JSON.stringify({ targets: { slack: { command: "x", tools: sample } } }));
    // The loader adds the key's line (" (line 1)"); the proxy's reader has no text to count lines in.
    const zod = config.broken.slack?.match(/is invalid: (.*?)(?: \(line \d+\))?\. See the README/)?.[1];
    expect({ sample, problem: ruleSetProblem(sample, "targets.slack.tools") }).toEqual({ sample, problem: zod });
  }
  // Every kind of target takes the three keys, the built-in memory too.
  const all = { tools: { deny: ["a"] }, prompts: { allow: ["b"] }, resources: { deny: ["c://*"] } };
  const config = readConfig(
    JSON.stringify({
      targets: {
        memory: all,
        hosted: { command: "x", ...all },
        external: { command: "x", transport: "http", ...all },
        remote: { url: "https://x/mcp", ...all },
      },
    }),
  );
  expect(config.broken).toEqual({});
});

test("rulesFor: the user's entry, then the project's file, which can only hide and fails closed when unreadable", () => {
  const user = { command: "x", tools: { allow: ["slack_*"] } };
  const read = (value: unknown) => ({ file: "/repo/.claude/msm.json", state: "read" as const, value });
  expect(rulesFor("slack", user, "/c.json").rules.layers.tools).toEqual([{ allow: ["slack_*"], file: "/c.json", key: "targets.slack.tools" }]);
  // A project file without this target, or with only a projectId, adds nothing.
  expect(rulesFor("slack", user, "/c.json", read({ projectId: "p" })).rules.layers.tools).toHaveLength(1);
  expect(rulesFor("slack", user, "/c.json", read({ targets: { other: { tools: { allow: [] } } } })).rules.layers.tools).toHaveLength(1);
  const narrowing = rulesFor("slack", user, "/c.json", read({ targets: { slack: { tools: { deny: ["*_dm"] }, prompts: { allow: [] } } } })).rules;
  expect(narrowing.layers.tools).toHaveLength(2);
  expect(decide(narrowing, "tools", "slack_dm")).toMatchObject({ by: "deny", file: "/repo/.claude/msm.json" });
  expect(decide(narrowing, "prompts", "any")).toMatchObject({ by: "allow", file: "/repo/.claude/msm.json" });
  // Anything that may have been meant as a rule but cannot be read hides everything, and says why.
  for (const [value, problem] of [
    [[], "(top level): expected object"],
    [{ targets: [] }, "targets: expected object"],
    [{ targets: { slack: "all" } }, "targets.slack: expected object"],
    [{ targets: { slack: { command: "rm -rf /", tools: { allow: ["*"] } } } }, 'unknown key "targets.slack.command"'],
    [{ targets: { slack: { tools: { allow: "*" } } } }, "targets.slack.tools.allow: expected array"],
  ] as const) {
    const { rules } = rulesFor("slack", user, "/c.json", read(value));
    const hidden = decide(rules, "tools", "slack_post");
    expect(hidden?.by).toBe("broken");
    expect((hidden as { problem: string }).problem).toContain(problem);
  }
  const invalid = rulesFor("slack", undefined, "/c.json", { file: "/repo/.claude/msm.json", state: "invalid", problem: "is not valid JSON (x)" }).rules;
  for (const kind of ["tools", "prompts", "resources"] as const) expect(decide(invalid, kind, "a")).toMatchObject({ by: "broken" });
  // A file someone else could have written is not used (and the note says so); the user's rules stand.
  const ignored = rulesFor("slack", user, "/c.json", { file: "/repo/.claude/msm.json", state: "ignored", reason: "it is a symbolic link" });
  expect(ignored.rules.layers.tools).toHaveLength(1);
  expect(ignored.notes[0]).toContain("/repo/.claude/msm.json is not used for tool rules: it is a symbolic link");
  // Invalid user rules fail closed for their kind only.
  const bad = rulesFor("slack", { command: "x", tools: { allow: "slack_*" } }, "/c.json").rules;
  expect(decide(bad, "tools", "slack_post")).toMatchObject({ by: "broken" });
  expect(decide(bad, "prompts", "p")).toBeUndefined();
});
