import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { loadToken } from "../../../src/lib/token.ts";

const originalHome = process.env.MSM_HOME;
afterAll(() => {
  process.env.MSM_HOME = originalHome;
});

function freshHome(): string {
  const home = join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "tok-")), "msm");
  process.env.MSM_HOME = home;
  return home;
}

test("created on first use: random, 0600, inside a 0700 home, then stable", () => {
  const home = freshHome();
  const token = loadToken();
  expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  expect(statSync(join(home, "token")).mode & 0o777).toBe(0o600);
  expect(statSync(home).mode & 0o777).toBe(0o700);
  expect(loadToken()).toBe(token);
  expect(readFileSync(join(home, "token"), "utf8").trim()).toBe(token);
});

test("a token file with loose permissions is tightened", () => {
  const home = freshHome();
  loadToken();
  chmodSync(join(home, "token"), 0o644);
  loadToken();
  expect(statSync(join(home, "token")).mode & 0o777).toBe(0o600);
});

test("an empty token file is an actionable error", () => {
  const home = freshHome();
  loadToken();
  writeFileSync(join(home, "token"), "");
  expect(() => loadToken()).toThrow(/exists but is empty. Delete it/);
});

test("processes racing to create it agree on one token", async () => {
  const home = freshHome();
  const script = `import { loadToken } from ${JSON.stringify(join(import.meta.dir, "../../../src/lib/token.ts"))}; process.stdout.write(loadToken());`;
  const runs = Array.from({ length: 6 }, () => Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, MSM_HOME: home }, stdout: "pipe" }));
  const tokens = await Promise.all(runs.map((p) => new Response(p.stdout).text()));
  expect(new Set(tokens).size).toBe(1);
  expect(tokens[0]!.length).toBeGreaterThan(40);
});
