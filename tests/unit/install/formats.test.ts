import { describe, expect, test } from "bun:test";
import { json } from "../../../src/install/formats/json.ts";
import { jsonc, parseTree, toValue } from "../../../src/install/formats/jsonc.ts";
import { toml } from "../../../src/install/formats/toml.ts";
import type { Format } from "../../../src/install/formats/format.ts";

const ENTRY = { command: "/opt/msm", args: ["proxy", "--target", "memory"] };

/** add then remove with the undo it gave must give back the input exactly; the middle must parse to what we meant. */
function roundTrip(format: Format, text: string, container: string[], parse: (t: string) => unknown) {
  const added = format.add(text, container, "memory", ENTRY, "f");
  let node = parse(added.text) as Record<string, unknown>;
  for (const key of container) node = node[key] as Record<string, unknown>;
  expect(node.memory).toEqual(ENTRY);
  const second = format.add(added.text, container, "other", { command: "x", args: [] }, "f");
  const back = format.remove(format.remove(second.text, container, "other", second.undo), container, "memory", added.undo);
  expect(back).toBe(text);
  return added.text;
}

describe("JSON and JSONC edits", () => {
  const cases: [string, string][] = [
    ["no file", ""],
    ["empty object", "{}"],
    ["empty object with newline", "{\n}\n"],
    ["no container", '{\n  "theme": "dark"\n}\n'],
    ["empty container", '{ "mcpServers": {} }'],
    ["container with a comment inside", '{\n  "mcpServers": { // none yet\n  }\n}'],
    ["tabs", '{\n\t"mcpServers": {\n\t\t"a": {"command": "a"}\n\t}\n}\n'],
    ["trailing comma", '{\n  "mcpServers": {\n    "a": {"command": "a"},\n  },\n}\n'],
    ["comment after the last member", '{\n  "mcpServers": {\n    "a": {"command": "a"} // the a server\n  }\n}\n'],
    ["comma and comment after the last member", '{\n  "mcpServers": {\n    "a": {"command": "a"}, // the a server\n  }\n}\n'],
    ["CRLF", '{\r\n  "mcpServers": {\r\n    "a": {"command": "a"}\r\n  }\r\n}\r\n'],
    ["block comments and strings with braces", '/* head */ {\n  "x": "}{\\"//",\n  "mcpServers": { /* a */ "a": {"command": "a"} }\n}'],
  ];
  for (const [name, text] of cases) {
    test(`add, then remove, is exact: ${name}`, () => {
      roundTrip(jsonc, text, ["mcpServers"], (t) => Bun.JSONC.parse(t));
    }, 10_000);
  }

  test("a CRLF file gets CRLF lines", () => {
    const text = '{\r\n  "mcpServers": {\r\n    "a": {"command": "a"} // a\r\n  }\r\n}\r\n';
    const added = jsonc.add(text, ["mcpServers"], "memory", ENTRY, "f").text;
    expect(added.replace(/\r\n/g, "")).not.toContain("\n");
  }, 10_000);

  test("plain JSON stays plain JSON, and a JSON file with comments is refused", () => {
    const text = roundTrip(json, '{\n  "mcpServers": {\n    "a": {"command": "a"}\n  }\n}\n', ["mcpServers"], JSON.parse);
    expect(() => JSON.parse(text)).not.toThrow();
    expect(() => json.entries('{ // no\n "mcpServers": {} }', ["mcpServers"], "f.json")).toThrow("has comments or trailing commas");
  }, 10_000);

  test("replace and restore put the original source back, comments inside it included", () => {
    const text = '{\n  "servers": {\n    "a": { "command": "a", // why\n      "args": [] },\n    "b": 1\n  }\n}\n';
    const original = jsonc.entryText(text, ["servers"], "a")!;
    expect(original).toBe('{ "command": "a", // why\n      "args": [] }');
    const replaced = jsonc.replace(text, ["servers"], "a", ENTRY);
    expect((Bun.JSONC.parse(replaced) as { servers: { a: unknown; b: number } }).servers).toEqual({ a: ENTRY, b: 1 });
    expect(jsonc.restore(replaced, ["servers"], "a", original)).toBe(text);
  }, 10_000);

  test("a duplicate key: the last one wins, as in every JSON reader", () => {
    const text = '{"mcpServers": {"a": {"command": "old"}, "a": {"command": "new"}}}';
    expect(jsonc.entries(text, ["mcpServers"], "f")).toEqual({ a: { command: "new" } });
    expect(jsonc.entryText(text, ["mcpServers"], "a")).toBe('{"command": "new"}');
  }, 10_000);

  test("errors name the line and column; a non-object container is refused", () => {
    expect(() => parseTree('{\n  "a": [1,\n  }')).toThrow(/line 3, column 3/);
    expect(() => jsonc.add('{"mcpServers": []}', ["mcpServers"], "x", ENTRY, "f")).toThrow('"mcpServers" is not an object');
    expect(toValue(parseTree('{"a": [1, 2.5e3, true, null, "\\u00e9"]}'))).toEqual({ a: [1, 2500, true, null, "é"] });
  }, 10_000);
});

describe("TOML edits", () => {
  const parse = (t: string) => Bun.TOML.parse(t);
  const cases: [string, string][] = [
    ["no file", ""],
    ["no trailing newline", 'model = "o3"'],
    ["other tables and comments", '# top\nmodel = "o3"\n\n[profiles.fast]\nmodel = "mini" # cheap\n'],
    ["CRLF", '# c\r\nmodel = "o3"\r\n'],
    ["existing servers", '[mcp_servers.a]\ncommand = "a"\n\n[mcp_servers.a.env]\nK = "v"\n'],
  ];
  for (const [name, text] of cases) {
    test(`add, then remove, is exact: ${name}`, () => {
      roundTrip(toml, text, ["mcp_servers"], parse);
    }, 10_000);
  }

  test("an entry's span covers its sub-tables, not the comments that introduce the next table", () => {
    const text = [
      "[mcp_servers.a]",
      'command = "a"',
      "args = [",
      '  "[not a header]",',
      "  [1, 2],",
      "]",
      'note = """',
      "[also not a header]",
      '"""',
      "[mcp_servers.a.env]",
      'K = "v"',
      "",
      "# the b server",
      "[mcp_servers.b]",
      'command = "b"',
      "",
    ].join("\n");
    const span = toml.entryText(text, ["mcp_servers"], "a")!;
    expect(span.endsWith('K = "v"\n')).toBe(true);
    expect(span).toContain("[also not a header]");
    const replaced = toml.replace(text, ["mcp_servers"], "a", { ...ENTRY, env: { A: "b c" }, startup_timeout_sec: 20 });
    expect(replaced).toContain("# the b server\n[mcp_servers.b]");
    expect((parse(replaced) as { mcp_servers: Record<string, unknown> }).mcp_servers).toEqual({
      a: { ...ENTRY, env: { A: "b c" }, startup_timeout_sec: 20 },
      b: { command: "b" },
    });
    expect(toml.restore(replaced, ["mcp_servers"], "a", span)).toBe(text);
  }, 10_000);

  test("quoted names and an inline servers table", () => {
    const added = toml.add("", ["mcp_servers"], "my.server", ENTRY, "f").text;
    expect(added.startsWith('[mcp_servers."my.server"]\n')).toBe(true);
    expect((parse(added) as { mcp_servers: Record<string, unknown> }).mcp_servers["my.server"]).toEqual(ENTRY);
    expect(() => toml.add('mcp_servers = { a = { command = "a" } }\n', ["mcp_servers"], "b", ENTRY, "f")).toThrow();
    expect(() => toml.entries("[broken\n", ["mcp_servers"], "config.toml")).toThrow("config.toml is not valid TOML");
  }, 10_000);
});
