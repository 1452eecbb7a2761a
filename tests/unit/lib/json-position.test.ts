// Lines for messages about config.json (lib/json-position.ts), and the messages that carry them (lib/config.ts).
import { expect, test } from "bun:test";
import { readConfig } from "../../../src/lib/config.ts";
import { jsonPositions } from "../../../src/lib/json-position.ts";

test("the first syntax error's line and column, where JSON.parse agrees the text is invalid", () => {
  const cases: [string, { line: number; column: number } | undefined][] = [
    ['{\n  "a": 1\n}', undefined],
    ['{\n  "a": 1,\n  "b": x\n}', { line: 3, column: 8 }],
    ['{\n  "a": [1, 2,]\n}', { line: 2, column: 14 }],
    ['{\n  "a": 1,\n}', { line: 3, column: 1 }],
    ['{ "a": "no end', { line: 1, column: 15 }],
    ["", { line: 1, column: 1 }],
    ['{"a": 1} x', { line: 1, column: 10 }],
  ];
  for (const [text, at] of cases) {
    expect({ text, at: jsonPositions(text).error }).toEqual({ text, at });
    let valid = true;
    try {
      JSON.parse(text);
    } catch {
      valid = false;
    }
    expect(valid).toBe(at === undefined);
  }
});

test("the line of a key by its path; the last of duplicate keys, as JSON.parse keeps", () => {
  const text = '{\n  "targets": {\n    "fs": {\n      "args": ["a"],\n      "shar": 1\n    },\n    "fs": { "x": 1 }\n  }\n}';
  const at = jsonPositions(text);
  expect(at.lineOf(["targets"])).toBe(2);
  expect(at.lineOf(["targets", "fs"])).toBe(7);
  expect(at.lineOf(["targets", "fs", "shar"])).toBe(5);
  expect(at.lineOf(["targets", "nope"])).toBeUndefined();
});

test("config.json's problems name their line", () => {
  expect(readConfig('{\n  "targets": {\n    "fs": { "command": x }\n  }\n}').error).toContain("(line 3, column 24)");
  const broken = readConfig('{\n  "targets": {\n    "fs": {\n      "command": "x",\n      "shar": "project"\n    },\n    "ok": { "command": "y" }\n  }\n}');
  expect(broken.broken.fs).toContain('unknown key "targets.fs.shar" (line 5)');
  expect(Object.keys(broken.targets)).toEqual(["ok"]);
  const wrongType = readConfig('{\n  "targets": {\n    "code": {\n      "command": "x",\n      "transport": "grpc"\n    }\n  }\n}');
  expect(wrongType.broken.code).toContain("targets.code.transport: must be one of");
  expect(wrongType.broken.code).toContain("(line 5)");
  expect(readConfig('{\n  "supervisor": { "port": "a" },\n  "colour": 1\n}').error).toMatch(
    /unknown key "colour" \(line 3\); supervisor\.port: expected number \(line 2\)/,
  );
});
