import { describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { rotateInPlace, tailLines } from "../../src/lib/log.ts";
import { ensureHome, msmHome } from "../../src/lib/paths.ts";

describe("daemon logs", () => {
  test("tailLines returns the last lines, or [] for a missing file", () => {
    ensureHome();
    const file = join(msmHome(), "logs", "tail.log");
    appendFileSync(file, Array.from({ length: 500 }, (_, i) => `line ${i}`).join("\n") + "\n");
    expect(tailLines(file, 3)).toEqual(["line 497", "line 498", "line 499"]);
    expect(tailLines(join(msmHome(), "logs", "missing.log"), 3)).toEqual([]);
  });

  test("rotation copies and truncates, so a daemon's open O_APPEND descriptor keeps writing to the live file", () => {
    ensureHome();
    const file = join(msmHome(), "logs", "rotate.log");
    const fd = openSync(file, "a"); // what a daemon's stdout is
    try {
      writeSync(fd, "x".repeat(2000) + "\n");
      expect(rotateInPlace(file, 1000)).toBe(true);
      expect(rotateInPlace(file, 1000)).toBe(false);
      writeSync(fd, "after rotation\n");
      expect(readFileSync(file, "utf8")).toBe("after rotation\n");
      expect(readFileSync(`${file}.1`, "utf8").length).toBe(2001);
    } finally {
      closeSync(fd);
    }
  });
});
