import { expect, test } from "bun:test";
import { templatePattern } from "../../../src/proxy/profile.ts";
import { joinPages, mergeDiscover, mergeInitialize, mergeLists, unionCapabilities } from "../../../src/proxy/profile/merge.ts";
import { exposedName, NameTable } from "../../../src/proxy/profile/names.ts";

const CLIENT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

test("names: target__tool when a client accepts it, else a stable shortened name with a hash suffix", () => {
  expect(exposedName("fs", "read_file", "__")).toBe("fs__read_file");
  expect(exposedName("fs", "read_file", "-")).toBe("fs-read_file");
  const full = "everything__a_tool_whose_name_is_much_longer_than_any_client_allows_today";
  const long = exposedName("everything", "a_tool_whose_name_is_much_longer_than_any_client_allows_today", "__");
  expect(long).toMatch(CLIENT_NAME);
  expect(long).toHaveLength(64);
  expect(long).toMatch(new RegExp(`^${full.slice(0, 55)}_[0-9a-f]{8}$`));
  expect(exposedName("everything", "a_tool_whose_name_is_much_longer_than_any_client_allows_today", "__")).toBe(long);
  // A dot (target names and tool names may have one) is not allowed by clients: replaced, and the hash keeps apart
  // what reads alike afterwards.
  const dotted = exposedName("my.fs", "read", "__");
  expect(dotted).toMatch(CLIENT_NAME);
  expect(dotted.startsWith("my_fs__read_")).toBe(true);
  expect(exposedName("my_fs", "read", "__")).toBe("my_fs__read");
  expect(exposedName("a", "tool/with/slashes", "__")).not.toBe(exposedName("a", "tool_with_slashes", "__"));
});

test("the name table routes listed names, and unlisted ones by the longest target prefix", () => {
  const table = new NameTable(["a", "a__b", "git"], "__");
  expect(table.add("git", "git_log")).toBe("git__git_log");
  const hashed = table.add("a", "x".repeat(80))!;
  expect(table.resolve(hashed)).toEqual({ target: "a", name: "x".repeat(80) });
  expect(table.resolve("git__git_log")).toEqual({ target: "git", name: "git_log" });
  expect(table.resolve("git__no_such_tool")).toEqual({ target: "git", name: "no_such_tool" });
  expect(table.resolve("a__b__c")).toEqual({ target: "a__b", name: "c" });
  expect(table.resolve("nothing")).toBeUndefined();
});

test("capabilities: the union, objects merged key by key, true wins", () => {
  expect(
    unionCapabilities([
      { tools: { listChanged: false }, logging: {} },
      { tools: { listChanged: true }, resources: { subscribe: true } },
      { experimental: { a: { b: 1 } } },
      { experimental: { a: { c: 2 } } },
    ]),
  ).toEqual({ tools: { listChanged: true }, logging: {}, resources: { subscribe: true }, experimental: { a: { b: 1, c: 2 } } });
});

test("initialize of one target is that target's answer, but for serverInfo and the instructions' prefix", () => {
  const result = { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "git", version: "1" }, instructions: "Use git.", extra: 1 };
  const one = mergeInitialize({ name: "dev", mode: "all", targets: ["git"] }, "2025-11-25", [{ target: "git", result }]);
  expect(one).toEqual({
    protocolVersion: "2025-06-18",
    capabilities: { tools: {} },
    serverInfo: { name: "dev", title: "msm profile dev", version: expect.any(String) },
    instructions: "git: Use git.",
    extra: 1,
  });
  // Several: versions that differ give the editor's; every listed kind says listChanged (targets come and go).
  const other = { protocolVersion: "2025-11-25", capabilities: { prompts: {} }, serverInfo: { name: "x", version: "2" } };
  const two = mergeInitialize({ name: "dev", mode: "all", targets: ["git", "x"] }, "2025-11-25", [
    { target: "git", result },
    { target: "x", result: other },
  ]);
  expect(two.protocolVersion).toBe("2025-11-25");
  expect(two.capabilities).toEqual({ tools: { listChanged: true }, prompts: { listChanged: true } });
  const search = mergeInitialize({ name: "dev", mode: "search", targets: ["git", "x"] }, "2025-11-25", [{ target: "git", result }]);
  expect(search.capabilities).toEqual({ tools: {} });
  expect(String(search.instructions)).toContain("call find_tools");
  const discover = mergeDiscover({ name: "dev", mode: "all", targets: ["m"] }, [
    { target: "m", result: { supportedVersions: ["2026-07-28"], capabilities: {}, _meta: { "io.modelcontextprotocol/serverInfo": { name: "m" } }, ttlMs: 0 } },
  ]);
  expect(discover).toEqual({
    supportedVersions: ["2026-07-28"],
    capabilities: {},
    ttlMs: 0,
    _meta: { "io.modelcontextprotocol/serverInfo": { name: "dev", title: "msm profile dev", version: expect.any(String) } },
  });
});

test("lists: pages joined, tools renamed, a resource listed twice shown once (from the first target)", () => {
  const pages = joinPages("resources/list", [{ resources: [{ uri: "a://1" }], nextCursor: "2", _meta: { x: 1 } }, { resources: [{ uri: "a://2" }] }]);
  expect(pages).toEqual({ entries: [{ uri: "a://1" }, { uri: "a://2" }], rest: { _meta: { x: 1 } } });
  const merged = mergeLists(
    "resources/list",
    [
      { target: "one", list: pages },
      { target: "two", list: { entries: [{ uri: "a://2", name: "dup" }, { uri: "b://1" }], rest: {} } },
    ],
    (_target, entry) => entry,
  );
  expect(merged).toEqual({ _meta: { x: 1 }, resources: [{ uri: "a://1" }, { uri: "a://2" }, { uri: "b://1" }] });
  const tools = mergeLists("tools/list", [{ target: "git", list: { entries: [{ name: "log" }], rest: {} } }], (target, entry) => ({
    ...entry,
    name: `${target}__${entry.name}`,
  }));
  expect(tools).toEqual({ tools: [{ name: "git__log" }] });
});

test("URI templates match what they expand to", () => {
  expect(templatePattern("demo://resource/dynamic/text/{id}").test("demo://resource/dynamic/text/42")).toBe(true);
  expect(templatePattern("demo://resource/dynamic/text/{id}").test("demo://resource/dynamic/blob/42")).toBe(false);
  expect(templatePattern("file:///{+path}").test("file:///a/b/c.txt")).toBe(true);
  expect(templatePattern("test://template/{id}/data").test("test://template/42/data")).toBe(true);
  expect(templatePattern("search://q{?term,limit}").test("search://q?term=x&limit=2")).toBe(true);
});
