// Resolving a target's references: whose environment `${VAR}` reads, the envFile and the keychain, what happens when
// one is missing (every missing one named, never a value), and which resolved values are masked in what msm writes.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnvFile, readEnvFile } from "../../../../src/lib/secrets/envfile.ts";
import { needsResolving, redactor, resolveStrings, UnresolvedError } from "../../../../src/lib/secrets/resolve.ts";

const keychain = (entries: Record<string, string>) => async (name: string) => entries[name];

function dir(): string {
  return mkdtempSync(join(process.env.MSM_TEST_ROOT!, "secrets-"));
}

async function failure(promise: Promise<unknown>): Promise<UnresolvedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UnresolvedError);
    return error as UnresolvedError;
  }
  throw new Error("expected the resolution to fail");
}

describe("resolving a target's strings", () => {
  test("${VAR} is the value the server's own environment gives it: inherited, then envFile, then env", async () => {
    const file = join(dir(), "app.env");
    writeFileSync(file, "FROM_FILE=file-value\nSHADOWED=file\n", { mode: 0o600 });
    const { strings, fileEnv } = await resolveStrings(
      {
        command: "${TOOL_DIR}/server",
        args: ["--a=${FROM_FILE}", "--b=${SHADOWED}", "--c=${OWN}", "--d=${MISSING:-fallback}", "--e=${EMPTY:-when empty}", "--f=${EMPTY}"],
        env: { OWN: "own-${FROM_FILE}", SHADOWED: "env" },
        cwd: "${HOME}",
      },
      { target: "t", inherited: { TOOL_DIR: "/opt/t", SHADOWED: "inherited", HOME: "/home/me", EMPTY: "" }, whose: "the session", envFile: file },
    );
    expect(strings.command).toBe("/opt/t/server");
    // args see `env` (as the server's environment has it); `env` values see what comes before `env`.
    expect(strings.args).toEqual(["--a=file-value", "--b=env", "--c=own-file-value", "--d=fallback", "--e=when empty", "--f="]);
    expect(strings.env).toEqual({ OWN: "own-file-value", SHADOWED: "env" });
    expect(strings.cwd).toBe("/home/me");
    expect(fileEnv).toEqual({ FROM_FILE: "file-value", SHADOWED: "file" });
  });

  test("${secret:NAME} reads the keychain once per name, and placeholders fill only the text around it", async () => {
    let reads = 0;
    const { strings } = await resolveStrings(
      { url: "https://{project}/x?k=${secret:k}", headers: { Authorization: "Bearer ${secret:k}" } },
      {
        target: "t",
        inherited: {},
        whose: "w",
        literal: (t) => t.replaceAll("{project}", "host"),
        secret: async (name) => {
          reads++;
          return name === "k" ? "v{project}" : undefined;
        },
      },
    );
    expect(strings).toEqual({ url: "https://host/x?k=v{project}", headers: { Authorization: "Bearer v{project}" } });
    expect(reads).toBe(1);
  });

  test("anything missing stops the start, and the error names every missing reference and where, never a value", async () => {
    const error = await failure(
      resolveStrings(
        { env: { GITHUB_TOKEN: "${GITHUB_TOKEN}", FINE: "${PRESENT}" }, args: ["${secret:gone}", "${secret:there}"] },
        {
          target: "gh",
          inherited: { PRESENT: "present-value-123" },
          whose: "the environment of the session that started this child",
          secret: keychain({ there: "there-value-123" }),
        },
      ),
    );
    expect(error.code).toBe("SECRET_UNRESOLVED");
    expect(error.message).toContain("${GITHUB_TOKEN} (in env.GITHUB_TOKEN) is not set in the environment of the session that started this child");
    expect(error.message).toContain("${secret:gone} is not in the keychain (run: msm secret set gone)");
    expect(error.message).not.toContain("present-value-123");
    expect(error.message).not.toContain("there-value-123");
  });

  test("a shared server's missing variable says where its secret goes instead (the base set has no session's variables)", async () => {
    const error = await failure(resolveStrings({ env: { T: "${TOKEN}" } }, { target: "g", inherited: {}, whose: "msm's base set", base: true }));
    expect(error.message).toContain("keep the value in the keychain");
    expect(error.message).toContain("envFile");
  });

  test("an envFile that is missing, or that others may write, stops the start", async () => {
    const d = dir();
    expect((await failure(resolveStrings({}, { target: "t", inherited: {}, whose: "w", envFile: join(d, "none.env") }))).message).toContain("does not exist");
    const open = join(d, "open.env");
    writeFileSync(open, "A=1\n");
    chmodSync(open, 0o666);
    if (process.getuid?.() !== undefined) {
      expect(readEnvFile(open)).toEqual({ problem: expect.stringContaining("writable by every user") });
      expect((await failure(resolveStrings({}, { target: "t", inherited: {}, whose: "w", envFile: open }))).message).toContain("chmod go-w");
    }
  });

  test("a keychain that cannot be reached names the reference and the platform's reason", async () => {
    const error = await failure(
      resolveStrings(
        { env: { T: "${secret:tok}" } },
        {
          target: "t",
          inherited: {},
          whose: "w",
          secret: async () => {
            throw new Error("the keychain cannot be used (Could not connect)");
          },
        },
      ),
    );
    expect(error.message).toContain("${secret:tok} cannot be read: the keychain cannot be used (Could not connect)");
  });

  test("values from the keychain, from secret-named variables and envFile entries are masked; ordinary ones are not", async () => {
    const file = join(dir(), "m.env");
    writeFileSync(file, "API_KEY=file-secret-value\nLOG_LEVEL=verbose-logging\n", { mode: 0o600 });
    const { redact } = await resolveStrings(
      { env: { A: "${secret:k}", B: "${MY_TOKEN}", C: "${DATA_DIR}" }, args: ["${API_KEY}"] },
      {
        target: "t",
        inherited: { MY_TOKEN: "token-value-1234", DATA_DIR: "/srv/data/dir" },
        whose: "w",
        envFile: file,
        secret: keychain({ k: "keychain-value" }),
      },
    );
    const line = "keychain-value token-value-1234 file-secret-value /srv/data/dir verbose-logging";
    expect(redact(line)).toBe("[secret] [secret] [secret] /srv/data/dir verbose-logging");
  });

  test("a target without references or envFile needs no resolving (and keeps its old start path)", () => {
    expect(needsResolving({ command: "npx", args: ["-y", "x", "{project}"], env: { A: "b" } })).toBe(false);
    expect(needsResolving({ command: "npx", args: ["${X}"] })).toBe(true);
    expect(needsResolving({ command: "npx" }, "~/.env")).toBe(true);
  });

  test("redactor masks a longer value whole before a shorter one inside it", () => {
    expect(redactor(["abcdef", "abcdefghij"])("x abcdefghij y abcdef")).toBe("x [secret] y [secret]");
  });
});

describe("envFile", () => {
  test("KEY=value lines: export, comments, quotes, escapes and multi-line double quotes", () => {
    expect(
      parseEnvFile(
        [
          "# a comment",
          "export A=plain value # trailing comment",
          "B='single $NOT ${EXPANDED}'",
          'C="double \\"quoted\\"\\nnext"',
          'D="first',
          'second"',
          "E=",
          "not an assignment",
          "F=with#hash",
        ].join("\n"),
      ),
    ).toEqual({ A: "plain value", B: "single $NOT ${EXPANDED}", C: 'double "quoted"\nnext', D: "first\nsecond", E: "", F: "with#hash" });
  });
});
