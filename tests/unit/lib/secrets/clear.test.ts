// The heuristic `msm doctor` flags secrets in clear with and `msm import` moves them by: what it catches, what it
// leaves alone (paths, numbers, references, names that only describe a secret), and where it says it found each.
import { describe, expect, test } from "bun:test";
import { clearSecrets, secretName, secretNameFor } from "../../../../src/lib/secrets/clear.ts";

const where = (entry: unknown) => clearSecrets(entry).map((f) => f.where);

describe("secrets in clear", () => {
  test("names that say secret, with values that look like one", () => {
    for (const name of [
      "GITHUB_TOKEN",
      "GITHUB_PERSONAL_ACCESS_TOKEN",
      "apiKey",
      "OPENAI_API_KEY",
      "DB_PASSWORD",
      "CLIENT_SECRET",
      "x-api-key",
      "Authorization",
    ]) {
      expect(secretName(name)).toBe(true);
    }
    for (const name of ["MAX_TOKENS", "TOKEN_FILE", "API_KEY_ENV", "KEYBOARD", "LOG_LEVEL", "AWS_ACCESS_KEY_ID", "PATH"]) expect(secretName(name)).toBe(false);
    expect(
      where({
        env: {
          GITHUB_TOKEN: "abcdefgh12345678",
          API_KEY: "/home/me/.keys/api",
          DB_PASSWORD: "1234",
          AUTH_MODE: "oauth",
          SECRET_REF: "${secret:x}",
          TOKEN: "Bearer ${GH}",
          MAX_TOKENS: "4096",
        },
      }),
    ).toEqual(["env.GITHUB_TOKEN"]);
  });

  test("known token shapes anywhere: args, a flag's value, a URL, a header", () => {
    const gh = `ghp_${"a1B2".repeat(9)}`;
    const found = clearSecrets({
      command: "docker",
      args: ["run", "-e", `GITHUB_TOKEN=${gh}`, "--api-key", "k3y-value-long", `--token=plainvalue99`, "--verbose", "image"],
      url: "https://user:hunter2pass@example.com/mcp?api_key=abcdefgh123",
      headers: { Authorization: "Bearer sk-notreal-0123456789abcdef", Accept: "application/json" },
      oauth: { clientId: "id", clientSecret: "s3cr3t" },
    });
    expect(found.map((f) => [f.where, f.why])).toEqual([
      ["args[2]", "it holds a GitHub token (gh?_…)"],
      ["args[4]", "it follows --api-key"],
      ["args[5]", "its name (--token) says it is a secret"],
      ["headers.Authorization", "it looks like an API key (sk-…)"],
      ["url", "it holds a password"],
      ["oauth.clientSecret", "it is the OAuth client's secret"],
    ]);
    // The secret part only: what import replaces with a reference.
    expect(found[0]!.value).toBe(gh);
    expect(found[2]!.value).toBe("plainvalue99");
    expect(found[3]!.value).toBe("sk-notreal-0123456789abcdef");
  });

  test("a database URL with a password, and an Authorization header in any form", () => {
    expect(where({ database: "postgres://msm:pw-in-clear@db/x" })).toEqual(["database"]);
    expect(where({ database: "postgres://msm@db/x" })).toEqual([]);
    expect(where({ headers: { authorization: "Basic dXNlcjpwYXNzd29yZA==" } })).toEqual(["headers.authorization"]);
    expect(where({ headers: { Authorization: "Bearer ${secret:linear}" } })).toEqual([]);
  });

  test("the keychain name import stores a finding under, and doctor suggests", () => {
    expect(secretNameFor("github", "env.GITHUB_TOKEN")).toBe("github.GITHUB_TOKEN");
    expect(secretNameFor("fs", "args[3]")).toBe("fs.args3");
    expect(secretNameFor("linear", "headers.Authorization")).toBe("linear.Authorization");
    expect(secretNameFor("api", "oauth.clientSecret")).toBe("api.clientSecret");
  });
});
