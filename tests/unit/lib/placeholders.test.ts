// The project placeholders of a hosted target: `{project}` as it is (argv, env, cwd), `{project:sh}` quoted for a
// POSIX shell — proved by real shells running the filled-in script with hostile folder names, and the config check
// that refuses the plain form inside a shell script.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { readConfig, resolveTarget } from "../../../src/lib/config.ts";
import { fillProject, shellPlaceholderProblem, shellQuote } from "../../../src/lib/placeholders.ts";

/** Folder names a cloned repository or an archive could carry; each tries to run `touch PWNED` somewhere. */
const HOSTILE = [
  "p';touch PWNED;'",
  "p\";touch PWNED;\"",
  "$(touch PWNED)",
  "`touch PWNED`",
  "a b\tc\nd; touch PWNED",
  "it's mine & touch PWNED |",
  "back\\slash\\'; touch PWNED; '",
  "{project}';touch PWNED;'",
  "{project:sh}",
  "-c touch PWNED",
  "ünï côdé ✓ $HOME ${HOME} !! *",
];

const SHELLS = ["sh", "bash", "dash", "zsh", "ksh"].filter((s) => Bun.which(s));

describe("fillProject", () => {
  test("{project} is the folder as it is; {project:sh} the folder as one shell word; global leaves the text", () => {
    expect(fillProject("--root={project}", "/w/a b")).toBe("--root=/w/a b");
    expect(fillProject("cd {project:sh} && ls {project:sh}", "/w/it's")).toBe(`cd '/w/it'\\''s' && ls '/w/it'\\''s'`);
    expect(fillProject("{project}", undefined)).toBe("{project}");
    expect(fillProject("{projects} {project:bash} {PROJECT}", "/w")).toBe("{projects} {project:bash} {PROJECT}");
  });

  test("one pass: placeholders inside the inserted folder name are not filled again", () => {
    expect(fillProject("{project:sh}", "/w/{project}")).toBe("'/w/{project}'");
    expect(fillProject("{project} {project:sh}", "/w/{project:sh}';x;'")).toBe(`/w/{project:sh}';x;' '/w/{project:sh}'\\'';x;'\\'''`);
  });

  test(`each real shell (${SHELLS.join(", ")}) reads {project:sh} back as the exact folder name and runs nothing in it`, () => {
    expect(SHELLS.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "placeholders-"));
    try {
      for (const shell of SHELLS) {
        for (const name of HOSTILE) {
          const project = `/srv/${name}`;
          const script = fillProject("printf '%s' {project:sh}", project);
          const run = Bun.spawnSync([shell, "-c", script], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir } });
          expect({ shell, name, out: run.stdout.toString(), code: run.exitCode }).toEqual({ shell, name, out: project, code: 0 });
        }
      }
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("the plain {project} pasted into a quoted script does run a hostile name (what the check below refuses)", () => {
    const dir = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "placeholders-"));
    try {
      Bun.spawnSync(["sh", "-c", fillProject("echo '{project}' >/dev/null", `/srv/p';touch PWNED;'`)], { cwd: dir });
      expect(existsSync(join(dir, "PWNED"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("shellQuote of the empty string is an empty word", () => {
    expect(shellQuote("")).toBe("''");
  });
});

describe("shellPlaceholderProblem", () => {
  const refused = (command: string, args: string[]) => expect(shellPlaceholderProblem(command, args)).toBeString();
  const allowed = (command: string, args: string[]) => expect(shellPlaceholderProblem(command, args)).toBeUndefined();

  test("the plain {project} inside a POSIX shell's -c script is refused, with the quoted form as the fix", () => {
    const problem = shellPlaceholderProblem("sh", ["-c", "cd '{project}' && exec server"]);
    expect(problem).toContain('"{project}" is pasted into the sh -c script as it is');
    expect(problem).toContain('Write "{project:sh}" in the script instead');
    refused("/bin/bash", ["-lc", "exec server --root {project}"]);
    refused("bash", ["-e", "-o", "pipefail", "-c", "exec server {project}"]);
    refused("zsh", ["-c", "-x", "exec server {project}"]);
    refused("/usr/bin/env", ["FOO=1", "bash", "-c", "server {project}"]);
    refused("dash", ["-c", "--", "server {project}"]);
  });

  test("allowed: the quoted form, {project} as an argument after the script ($1), scripts from files, non-shells", () => {
    allowed("sh", ["-c", "cd {project:sh} && exec server"]);
    allowed("sh", ["-c", 'cd "$1" && exec server', "sh", "{project}"]);
    allowed("bash", ["./start.sh", "{project}"]);
    allowed("bash", ["-e", "start.sh", "{project}"]);
    allowed("npx", ["-y", "@modelcontextprotocol/server-filesystem", "{project}"]);
    allowed("node", ["-c", "{project}"]);
    allowed("sh", ["-c", "exec server"]);
  });

  test("cmd /c and PowerShell -Command: any project placeholder after the flag is refused (no quoting fits them)", () => {
    expect(shellPlaceholderProblem("cmd", ["/c", "server.exe", "{project}"])).toContain("cmd reads everything after /c as one command line");
    refused("C:\\Windows\\System32\\CMD.EXE", ["/C", "server {project:sh}"]);
    refused("pwsh", ["-NoProfile", "-Command", "server {project}"]);
    refused("powershell.exe", ["-c", "server '{project}'"]);
    allowed("cmd", ["/c", "server.exe"]);
    allowed("pwsh", ["-File", "start.ps1", "{project}"]);
  });

  test("config.json: such a target is invalid (the others keep working), with the key and the fix", () => {
    const config = readConfig(
      JSON.stringify({
        targets: {
          bad: { command: "sh", args: ["-c", "exec server '{project}'"] },
          good: { command: "sh", args: ["-c", "exec server {project:sh}"] },
          global: { command: "sh", args: ["-c", "exec server {project:sh}"], share: "global" },
          folder: { command: "server", cwd: "{project:sh}" },
        },
      }),
    );
    expect(config.broken.bad).toContain("targets.bad: \"{project}\" is pasted into the sh -c script as it is");
    expect(resolveTarget(config, "good")).toMatchObject({ kind: "hosted", args: ["-c", "exec server {project:sh}"] });
    // The quoted form names the project too: one global child has none.
    expect(config.broken.global).toContain('uses "{project}" but "share" is "global"');
    expect(config.broken.folder).toContain('targets.folder.cwd: "{project:sh}" is for shell scripts; a working directory takes the folder as it is, "{project}"');
  });
});
