import { describe, expect, test } from "bun:test";
import { defineCommand } from "citty";
import { flagValues, many, resolveCommand } from "../../../src/cli/args.ts";
import { root } from "../../../src/cli/main.ts";

const cmd = defineCommand({
  meta: { name: "msm" },
  subCommands: {
    put: defineCommand({
      meta: { name: "put" },
      args: {
        client: many({ type: "positional", required: false }),
        scope: { type: "enum", options: ["user", "project"], default: "user" },
        target: { type: "string" },
        output: { type: "string", alias: "o" },
        "dry-run": { type: "boolean" },
      },
    }),
    one: defineCommand({ meta: { name: "one" }, args: { name: { type: "positional", required: false } } }),
  },
});

const check = (argv: string[]) => resolveCommand(cmd, argv, true);

describe("one check for every command line (cli/args.ts)", () => {
  test("what a command declares passes: several values for a variadic positional, enum values, '-' as a value", async () => {
    expect((await check(["put", "a", "b", "c", "--scope", "project", "--target=x", "--target", "y", "-o", "-", "--dry-run"])).path).toEqual(["msm", "put"]);
    await expect(check(["one", "a", "b"])).rejects.toThrow('unexpected argument "b" for "msm one" (it takes at most 1).');
  }, 10_000);

  test("an enum value it does not list, a value for a boolean, a flag where a value belongs: usage errors", async () => {
    await expect(check(["put", "--scope", "global"])).rejects.toThrow('flag --scope must be one of user, project, not "global".');
    await expect(check(["put", "--scope=global"])).rejects.toThrow("must be one of");
    await expect(check(["put", "--dry-run=yes"])).rejects.toThrow("flag --dry-run takes no value.");
    await expect(check(["put", "--target", "--dry-run"])).rejects.toThrow("flag --target needs a value.");
    await expect(check(["put", "--target"])).rejects.toThrow("flag --target needs a value.");
    await expect(check(["put", "--bogus"])).rejects.toThrow('unknown flag --bogus for "msm put".');
  }, 10_000);

  test("msm's own commands: install takes several editors, its scope is checked before anything runs", async () => {
    expect((await resolveCommand(root, ["install", "claude-code", "cursor", "--target", "memory", "--dry-run"], true)).path).toEqual(["msm", "install"]);
    await expect(resolveCommand(root, ["import", "--share", "everyone"], true)).rejects.toThrow(
      'flag --share must be one of project, session, global, not "everyone".',
    );
    await expect(resolveCommand(root, ["generate-config", "cursor"], true)).rejects.toThrow(
      'unexpected argument "cursor" for "msm generate-config" (it takes no arguments).',
    );
    await expect(resolveCommand(root, ["proxy", "--transport", "websocket"], true)).rejects.toThrow(
      "flag --transport must be one of streamable-http, sse, http",
    );
  }, 10_000);

  test("flagValues: every value of a repeated flag, in order, up to --", () => {
    expect(flagValues(["--target", "a", "--target=b,c", "x", "-t", "d", "--", "--target", "e"], "target", "t")).toEqual(["a", "b,c", "d"]);
    expect(flagValues(["--targets", "a"], "target")).toEqual([]);
  });
});
