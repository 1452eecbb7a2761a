import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { editFile } from "../../../src/install/file.ts";
import { isMsmError } from "../../../src/lib/errors.ts";

function dir(): string {
  const root = join(process.env.MSM_TEST_ROOT!, "file-test");
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, "d-"));
}

const append = (line: string) => (text: string) => ({ text: text + line, result: undefined });

describe("the safe config writer", () => {
  test("a file another program keeps changing between read and write is never overwritten", () => {
    const file = join(dir(), "mcp.json");
    writeFileSync(file, "ours\n");
    let n = 0;
    let caught: unknown;
    try {
      editFile(file, append("msm\n"), { newMode: 0o600, beforeCommit: (f) => writeFileSync(f, `editor write ${++n}\n`) });
    } catch (error) {
      caught = error;
    }
    expect(isMsmError(caught) && caught.code).toBe("FILE_CHANGED");
    expect(readFileSync(file, "utf8")).toBe(`editor write ${n}\n`);
    expect(existsSync(`${file}.msm-backup`)).toBe(false);
  }, 10_000);

  test("a change made once meanwhile is kept: the edit is redone on the new content", () => {
    const file = join(dir(), "mcp.json");
    writeFileSync(file, "a\n");
    let once = false;
    const done = editFile(file, append("msm\n"), {
      newMode: 0o600,
      beforeCommit: (f) => {
        if (!once) writeFileSync(f, "a\nthe editor's line\n");
        once = true;
      },
    });
    expect(done.changed).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("a\nthe editor's line\nmsm\n");
    // The backup holds what the file was when msm's write went in.
    expect(readFileSync(`${file}.msm-backup`, "utf8")).toBe("a\nthe editor's line\n");
  }, 10_000);

  test("the file keeps its mode, a symlink stays a symlink, the first backup is kept", () => {
    const root = dir();
    const real = join(root, "dotfiles-mcp.json");
    const link = join(root, "mcp.json");
    writeFileSync(real, "one\n");
    chmodSync(real, 0o640);
    symlinkSync(real, link);
    editFile(link, append("two\n"), { newMode: 0o600 });
    editFile(link, append("three\n"), { newMode: 0o600 });
    expect(readlinkSync(link)).toBe(real);
    expect(readFileSync(real, "utf8")).toBe("one\ntwo\nthree\n");
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readFileSync(`${real}.msm-backup`, "utf8")).toBe("one\n");
  }, 10_000);

  test("no change, no write; a new file gets the new-file mode and its folder", () => {
    const root = dir();
    const file = join(root, "sub", "config.toml");
    expect(editFile(file, (t) => ({ text: t === "" ? null : t, result: 1 }), { newMode: 0o600 }).changed).toBe(false);
    editFile(file, append("x = 1\n"), { newMode: 0o644 });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(existsSync(`${file}.msm-backup`)).toBe(false);
  }, 10_000);
});
