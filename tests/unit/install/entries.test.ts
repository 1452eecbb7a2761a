// `msm import` turns an editor's stdio entry into a hosted target; `${workspaceFolder}` becomes `{project}`, except
// where a shell would read the folder name as code (lib/placeholders.ts refuses that form in config.json).
import { describe, expect, test } from "bun:test";
import { classify } from "../../../src/install/entries.ts";

describe("classify", () => {
  test("${workspaceFolder} as an argument of its own becomes {project}", () => {
    expect(classify({ command: "npx", args: ["-y", "server-filesystem", "${workspaceFolder}"] }, "${workspaceFolder}")).toEqual({
      kind: "stdio",
      server: { command: "npx", args: ["-y", "server-filesystem", "{project}"], env: {} },
      extra: {},
      moves: [],
    });
  });

  test("${workspaceFolder} pasted into a shell script is not imported, with the reason and what to do", () => {
    const sorted = classify({ command: "bash", args: ["-c", "cd '${workspaceFolder}' && exec server"] }, "${workspaceFolder}");
    expect(sorted.kind).toBe("skip");
    expect(sorted.kind === "skip" && sorted.reason).toContain("it pastes ${workspaceFolder} into a shell script unquoted");
    expect(sorted.kind === "skip" && sorted.reason).toContain('"{project:sh}"');
    // As "$1" after the script it stays a plain argument: imported.
    expect(classify({ command: "bash", args: ["-c", 'cd "$1" && exec server', "bash", "${workspaceFolder}"] }, "${workspaceFolder}").kind).toBe("stdio");
  });
});
