// `msm secret` on a real OS keychain (GNOME Keyring's Secret Service on a private D-Bus, through libsecret, as on a
// Linux desktop), and the clear error where there is no keychain at all.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KEYRING, startKeyring } from "../helpers/keyring.ts";
import { MSM, msm, Sandbox } from "../helpers/sandbox.ts";

/** `msm ARGS` with `input` on its stdin (a pipe, not a terminal). */
async function piped(sandbox: Sandbox, args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([MSM, ...args], { env: sandbox.env, stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe.skipIf(!KEYRING)("msm secret on a real keychain", () => {
  test("set reads the value from stdin, get prints it, list shows names and users never values, rm removes it", async () => {
    await using sandbox = new Sandbox({ targets: { gh: { command: "gh-mcp", env: { GITHUB_TOKEN: "${secret:github}" } } } });
    await startKeyring(sandbox);
    const value = `ghp_${crypto.randomUUID().replaceAll("-", "")}`;

    const set = await piped(sandbox, ["secret", "set", "github"], `${value}\n`);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Stored "github" in the keychain');
    expect(set.stdout).toContain("Used by gh");
    expect((await msm(sandbox, ["secret", "get", "github"])).stdout).toBe(`${value}\n`);

    const list = await msm(sandbox, ["secret", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^github\s+yes\s+\d{4}-\d\d-\d\d\s+gh$/m);
    const json = JSON.parse((await msm(sandbox, ["secret", "list", "--json"])).stdout);
    expect(json.secrets).toEqual([{ name: "github", inKeychain: true, setAt: expect.any(String), usedBy: ["gh"] }]);
    // The index msm keeps for `list` holds names only.
    expect(readFileSync(join(sandbox.msmHome, "secrets.json"), "utf8")).not.toContain(value);
    for (const out of [set, list]) expect(out.stdout + out.stderr).not.toContain(value);

    const rm = await msm(sandbox, ["secret", "rm", "github"]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain("Still used by gh: they will not start until it is set again.");
    const gone = await msm(sandbox, ["secret", "get", "github"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('No keychain entry "github"');
    // A name config.json uses but the keychain lacks: list says so, and exits 1.
    const missing = await msm(sandbox, ["secret", "list"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^github\s+MISSING\s+-\s+gh$/m);
  }, 60_000);

  test.skipIf(!Bun.which("script"))(
    "set from a terminal prompts without echoing what is typed",
    async () => {
      await using sandbox = new Sandbox({});
      await startKeyring(sandbox);
      const value = `typed-${crypto.randomUUID()}`;
      // `script` gives msm a real terminal (a pty): what the terminal shows is what `script` writes to its stdout.
      const child = Bun.spawn(["script", "-qfec", `${MSM} secret set typed`, "/dev/null"], { env: sandbox.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const reader = child.stdout.getReader();
      let shown = "";
      const read = async (until: (text: string) => boolean) => {
        while (!until(shown)) {
          const { value: chunk, done } = await reader.read();
          if (done) break;
          shown += new TextDecoder().decode(chunk);
        }
      };
      // A person types once the prompt is there (before it, the terminal itself would echo).
      await read((text) => text.includes("(input hidden): "));
      child.stdin.write(`${value}\r`);
      await child.stdin.flush();
      await read(() => false);
      expect(await child.exited).toBe(0);
      expect(shown).toContain("Value for typed (input hidden):");
      expect(shown).toContain('Stored "typed"');
      expect(shown).not.toContain(value);
      expect((await msm(sandbox, ["secret", "get", "typed"])).stdout).toBe(`${value}\n`);
    },
    60_000,
  );
});

describe("msm secret without a keychain", () => {
  test("the value on the command line is refused and not echoed back", async () => {
    await using sandbox = new Sandbox({});
    const out = await msm(sandbox, ["secret", "set", "github", "ghp_on_the_command_line"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("never from the command line");
    expect(out.stderr).not.toContain("ghp_on_the_command_line");
  });

  test("D-Bus pointed at nothing: a clear error that says what msm needs and what to use instead", async () => {
    await using sandbox = new Sandbox({ targets: { gh: { command: "gh-mcp", env: { GITHUB_TOKEN: "${secret:github}" } } } });
    for (const args of [
      ["secret", "get", "github"],
      ["secret", "list"],
      ["secret", "rm", "github"],
    ]) {
      const out = await msm(sandbox, args, { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(sandbox.root, "nothing-here")}` });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("the keychain cannot be used (");
      expect(out.stderr).toContain("Secret Service");
      expect(out.stderr).toContain("use ${VAR} or envFile instead");
    }
    const set = await piped(sandbox, ["secret", "set", "github"], "value-that-goes-nowhere");
    expect(set.code).toBe(1);
    expect(set.stderr).toContain("the keychain cannot be used (");
    expect(set.stderr).not.toContain("value-that-goes-nowhere");
  });
});
