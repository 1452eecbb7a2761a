// Every command's --help and flag check, in-process over the real command tree, so a command added later is checked
// too. tests/e2e/cli-conventions.test.ts runs the binary for a few of them: the same code wired to stdout or stderr,
// the terminal's colour rules and exit codes (spawning it twice per command took 11–23 s on a busy machine).
import { afterEach, describe, expect, test } from "bun:test";
import type { CommandDef } from "citty";
import { resolveCommand, UsageError } from "../../../src/cli/args.ts";
import { root } from "../../../src/cli/main.ts";
import { useColor, visibleLength } from "../../../src/cli/style.ts";
import { renderUsage, USAGE_WIDTH } from "../../../src/cli/usage.ts";
import { VERSION_LINE } from "../../../src/lib/version.ts";

async function value<T>(v: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/** Every command path, e.g. [], ["status"], ["memory", "export"]. */
async function commandPaths(cmd: CommandDef = root, path: string[] = []): Promise<string[][]> {
  const out = [path];
  const subs = (await value(cmd.subCommands)) ?? {};
  for (const [name, sub] of Object.entries(subs)) out.push(...(await commandPaths((await value(sub))!, [...path, name])));
  return out;
}

/** What `msm PATH --help` prints (main.ts: resolve without checking, then render). */
async function help(path: string[], color: boolean): Promise<string> {
  const { cmd, path: helpPath } = await resolveCommand(root, [...path, "--help"], false);
  return renderUsage(cmd, helpPath, color, VERSION_LINE);
}

describe("every command of the real command tree", () => {
  test("an unknown flag is a usage error naming the command whose --help to run", async () => {
    const paths = (await commandPaths()).filter((p) => p.length > 0);
    expect(paths.length).toBeGreaterThanOrEqual(10);
    for (const path of paths) {
      const error = await resolveCommand(root, [...path, "--no-such-flag"], true).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ path, usageError: error instanceof UsageError }).toEqual({ path, usageError: true });
      expect((error as UsageError).message).toContain(`unknown flag --no-such-flag for "msm ${path.join(" ")}"`);
      expect((error as UsageError).path).toEqual(["msm", ...path]);
    }
  }, 30_000);

  test("every --help fits 80 columns; colour codes only when asked for, and then still 80 visible columns", async () => {
    expect(USAGE_WIDTH).toBe(80);
    for (const path of await commandPaths()) {
      const plain = await help(path, false);
      expect(plain).toContain("Usage: msm");
      expect(plain).not.toContain("\x1b[");
      for (const line of plain.split("\n")) expect({ path, line, width: line.length <= 80 }).toEqual({ path, line, width: true });
      const colored = await help(path, true);
      expect(colored).toContain("\x1b[");
      for (const line of colored.split("\n")) expect({ path, line, width: visibleLength(line) <= 80 }).toEqual({ path, line, width: true });
    }
  }, 30_000);
});

describe("colour follows the terminal, NO_COLOR and FORCE_COLOR (no-color.org)", () => {
  const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
  afterEach(() => {
    for (const [key, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[key];
      else process.env[key] = v;
    }
  });
  const withEnv = (env: { NO_COLOR?: string; FORCE_COLOR?: string }) => {
    delete process.env.NO_COLOR;
    delete process.env.FORCE_COLOR;
    Object.assign(process.env, env);
  };

  test("a terminal gets colour, a pipe none; FORCE_COLOR turns it on, NO_COLOR off, NO_COLOR wins", () => {
    withEnv({});
    expect(useColor({ isTTY: true })).toBe(true);
    expect(useColor({ isTTY: false })).toBe(false);
    withEnv({ FORCE_COLOR: "1" });
    expect(useColor({ isTTY: false })).toBe(true);
    withEnv({ FORCE_COLOR: "0" });
    expect(useColor({ isTTY: false })).toBe(false);
    withEnv({ NO_COLOR: "1" });
    expect(useColor({ isTTY: true })).toBe(false);
    withEnv({ NO_COLOR: "1", FORCE_COLOR: "1" });
    expect(useColor({ isTTY: true })).toBe(false);
  });
});
