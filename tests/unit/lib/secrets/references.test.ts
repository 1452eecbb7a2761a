// The reference syntax of a target's strings (docs/configuration.md, "Secret references"): what is a reference, what
// stays as written, and that a resolved value or a project folder is never read as one.
import { describe, expect, test } from "bun:test";
import { parseConfig, readConfig, resolveTarget } from "../../../../src/lib/config.ts";
import { referenceProblem, referencesIn, secretUses, substitute } from "../../../../src/lib/secrets/references.ts";

describe("references", () => {
  test("${VAR}, ${VAR:-default} and ${secret:NAME} are references; $${ is a literal ${; a shell's ${1} stays as written", () => {
    expect(referencesIn("Bearer ${TOKEN}")).toEqual([{ kind: "env", name: "TOKEN" }]);
    expect(referencesIn("${REGION:-eu-west-1}")).toEqual([{ kind: "env", name: "REGION", fallback: "eu-west-1" }]);
    expect(referencesIn("${REGION:-}")).toEqual([{ kind: "env", name: "REGION", fallback: "" }]);
    expect(referencesIn("${secret:github.token}")).toEqual([{ kind: "secret", name: "github.token" }]);
    expect(referencesIn("$${NOT_ME} ${1} ${#} ${input:key} $HOME")).toEqual([]);
    const value = (r: { name: string }) => `<${r.name}>`;
    expect(substitute("$${HOME} is ${HOME}", value)).toBe("${HOME} is <HOME>");
    expect(substitute("echo ${1:-x} ${A}${B}", value)).toBe("echo ${1:-x} <A><B>");
  });

  test("a value is never scanned again, and placeholders are filled only in literal text", () => {
    const fill = (t: string) => t.replaceAll("{project}", "/p/${secret:x}");
    // The project folder is named like a reference; the value holds a placeholder: both stay as they are.
    expect(substitute("{project}:${V}", () => "{project}", fill)).toBe("/p/${secret:x}:{project}");
  });

  test("a keychain name msm cannot use is a config error that names the key", () => {
    expect(referenceProblem("${secret:bad name}")).toContain("is not a keychain entry name");
    expect(referenceProblem("${secret:ok.name-1_2}")).toBeUndefined();
    const config = readConfig(JSON.stringify({ targets: { gh: { command: "x", env: { T: "${secret:-nope}" } } } }));
    expect(config.broken.gh).toContain("targets.gh.env.T");
    expect(config.broken.gh).toContain('"${secret:-nope}" is not a keychain entry name');
  });

  test("envFile is a key of hosted, external and remote targets; {project} in it only where there is a project", () => {
    const config = parseConfig(
      JSON.stringify({
        targets: {
          fs: { command: "x", envFile: "{project}/.env" },
          ext: { command: "y", transport: "streamable-http", envFile: "~/.config/y.env" },
          api: { url: "https://${API_HOST}/mcp", headers: { Authorization: "Bearer ${secret:api}" }, envFile: "api.env" },
        },
      }),
    );
    expect(resolveTarget(config, "fs")).toMatchObject({ kind: "hosted", envFile: "{project}/.env" });
    expect(resolveTarget(config, "ext")).toMatchObject({ kind: "external", envFile: "~/.config/y.env" });
    expect(resolveTarget(config, "api")).toMatchObject({ kind: "remote", url: "https://${API_HOST}/mcp", envFile: "api.env" });
    const broken = readConfig(
      JSON.stringify({
        targets: { g: { command: "x", share: "global", envFile: "{project}/.env" }, r: { url: "https://x/mcp", envFile: "{project}/.env" } },
      }),
    );
    expect(broken.broken.g).toContain('uses "{project}" but "share" is "global"');
    expect(broken.broken.r).toContain("targets.r.envFile");
  });

  test("secretUses lists which targets use each keychain name", () => {
    const uses = secretUses({
      targets: { a: { env: { X: "${secret:one}" }, args: ["${secret:two}"] }, b: { headers: { H: "x ${secret:one}" } }, c: { command: "${HOME}/x" } },
    });
    expect(Object.fromEntries(uses)).toEqual({ one: ["a", "b"], two: ["a"] });
  });
});
