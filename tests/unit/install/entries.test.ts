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

  test("${VAR} references and envFile are imported as references, not skipped", () => {
    const sorted = classify(
      { command: "npx", args: ["-y", "server-github", "--host=${GH_HOST:-github.com}"], env: { GITHUB_TOKEN: "${GITHUB_TOKEN}" }, envFile: ".env.github" },
      undefined,
      { name: "github", baseDir: "/home/me" },
    );
    expect(sorted).toEqual({
      kind: "stdio",
      server: {
        command: "npx",
        args: ["-y", "server-github", "--host=${GH_HOST:-github.com}"],
        env: { GITHUB_TOKEN: "${GITHUB_TOKEN}" },
        envFile: "/home/me/.env.github",
      },
      extra: {},
      moves: [],
    });
  });

  test("VS Code and Cursor: ${env:NAME} is ${NAME}, ${workspaceFolder} is {project}; what only the editor can fill in is not imported", () => {
    const vscode = { variables: "vscode" as const };
    const sorted = classify(
      { command: "x", env: { T: "${env:TOKEN}", H: "${userHome}/.x" }, envFile: "${workspaceFolder}/.env" },
      "${workspaceFolder}",
      vscode,
    );
    expect(sorted.kind === "stdio" && sorted.server).toEqual({ command: "x", args: [], env: { T: "${TOKEN}", H: "${HOME}/.x" }, envFile: "{project}/.env" });
    const input = classify({ command: "x", env: { KEY: "${input:perplexity-key}" } }, "${workspaceFolder}", vscode);
    expect(input.kind === "skip" && input.reason).toContain("it uses ${input:perplexity-key}, which the editor fills in itself");
    const basename = classify({ command: "x", args: ["${workspaceFolderBasename}"] }, "${workspaceFolder}", vscode);
    expect(basename.kind).toBe("skip");
  });

  test("Codex's env_vars become ${NAME} references", () => {
    const sorted = classify({ command: "x", env: { A: "1" }, env_vars: ["GITHUB_TOKEN", "A"] });
    expect(sorted.kind === "stdio" && sorted.server.env).toEqual({ A: "1", GITHUB_TOKEN: "${GITHUB_TOKEN}" });
  });

  test("a secret in clear is moved to the keychain as a reference, or without a keychain the entry is not imported", () => {
    const entry = { command: "docker", args: ["run", "-e", "GITHUB_TOKEN", "img", "--api-key=k3y-k3y-k3y-123"], env: { GITHUB_TOKEN: "ghp_notarealtoken" } };
    const moved = classify(entry, undefined, { name: "github", keychain: true });
    expect(moved.kind === "stdio" && moved.server).toEqual({
      command: "docker",
      args: ["run", "-e", "GITHUB_TOKEN", "img", "--api-key=${secret:github.args4}"],
      env: { GITHUB_TOKEN: "${secret:github.GITHUB_TOKEN}" },
    });
    expect(moved.kind === "stdio" && moved.moves.map((m) => [m.secret, m.value])).toEqual([
      ["github.args4", "k3y-k3y-k3y-123"],
      ["github.GITHUB_TOKEN", "ghp_notarealtoken"],
    ]);
    const kept = classify(entry, undefined, { name: "github", keychain: "the keychain cannot be used: Could not connect" });
    expect(kept.kind).toBe("skip");
    const reason = kept.kind === "skip" ? kept.reason : "";
    expect(reason).toContain(
      "it holds a secret in clear (args[4]: its name (--api-key) says it is a secret; env.GITHUB_TOKEN: its name (GITHUB_TOKEN) says it is a secret)",
    );
    expect(reason).toContain("the keychain cannot be used: Could not connect");
    expect(reason).not.toContain("ghp_notarealtoken");
    expect(reason).not.toContain("k3y-k3y");
  });
});
