// Secret references in real sessions through `dist/msm proxy`: whose environment `${VAR}` is read from (a project's
// child: the session that started it; a global child, an external server, a remote relay: msm's base set), the
// envFile and the keychain, and what a reference that cannot be resolved does — the target does not start, and
// `msm status` and the session's error name the reference, never a value.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { textOf } from "../helpers/hosted.ts";
import { KEYRING, startKeyring } from "../helpers/keyring.ts";
import { MSM, msm, openSession, Sandbox, waitFor, type Session } from "../helpers/sandbox.ts";

const SERVER = join(import.meta.dir, "../fixtures/secret-server.ts");
const BUN = process.execPath;

async function tool(session: Session, name: string, args: Record<string, unknown> = {}): Promise<unknown> {
  return JSON.parse(textOf(await session.client.callTool({ name, arguments: args })));
}

async function statusOf(sandbox: Sandbox, name: string): Promise<{ state: string; note: string | null; children?: { state: string; note: string | null }[] }> {
  const out = await msm(sandbox, ["status", "--json"]);
  return JSON.parse(out.stdout).targets.find((t: { name: string }) => t.name === name);
}

/** What opening a session answers when its child cannot start: the error the editor shows. */
async function refused(sandbox: Sandbox, cwd: string, target: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const session = await openSession(sandbox, cwd, { target, env });
    await session.close();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`the session of ${target} opened`);
}

describe("whose environment ${VAR} is read from", () => {
  test("a project's child: the session that started it; a global child: msm's base set — missing, it does not start and says why", async () => {
    await using sandbox = new Sandbox({
      targets: {
        memory: { port: 0 },
        mine: { command: BUN, args: [SERVER, "--api=${API_TOKEN}"], env: { SEEN_TOKEN: "${API_TOKEN}", REGION: "${REGION:-eu}" } },
        everyone: { command: BUN, args: [SERVER], share: "global", env: { SEEN_TOKEN: "${API_TOKEN}" } },
      },
    });
    const a = await openSession(sandbox, sandbox.project("a"), { target: "mine", env: { API_TOKEN: "token-of-session-a" } });
    expect(await tool(a, "env", { names: ["SEEN_TOKEN", "REGION", "API_TOKEN"] })).toEqual({
      SEEN_TOKEN: "token-of-session-a",
      REGION: "eu",
      API_TOKEN: "token-of-session-a",
    });
    expect(await tool(a, "argv")).toEqual(["--api=token-of-session-a"]);

    // Another project's session without the variable: its child does not start, and the editor is told which reference.
    const why = await refused(sandbox, sandbox.project("b"), "mine");
    expect(why).toContain("${API_TOKEN} (in env.SEEN_TOKEN, args[1]) is not set in the environment of the session that started this child");
    expect(why).toContain("the next request tries again");

    // A global child never sees a session's variables, even with the session's own value at hand.
    const whyGlobal = await refused(sandbox, sandbox.project("a"), "everyone", { API_TOKEN: "token-of-session-a" });
    expect(whyGlobal).toContain("${API_TOKEN} (in env.SEEN_TOKEN) is not set in the host's environment (msm's base set)");
    expect(whyGlobal).toContain('keep the value in the keychain ("msm secret set NAME"');
    expect(whyGlobal).not.toContain("token-of-session-a");

    const status = await statusOf(sandbox, "everyone");
    expect(status.state).toBe("degraded");
    expect(status.note).toContain("${API_TOKEN} (in env.SEEN_TOKEN) is not set");
    const text = await msm(sandbox, ["status"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("${API_TOKEN}");
    expect(text.stdout + (await msm(sandbox, ["status", "--json"])).stdout).not.toContain("token-of-session-a");
    await a.close();
  }, 90_000);

  test("an envFile gives a project's child its variables; {project}/.env is each project's own", async () => {
    await using sandbox = new Sandbox({
      targets: { memory: { port: 0 }, mine: { command: BUN, args: [SERVER], env: { SEEN: "${FILE_TOKEN}" }, envFile: "{project}/.env" } },
    });
    const a = sandbox.project("a");
    const b = sandbox.project("b");
    writeFileSync(join(a, ".env"), "FILE_TOKEN=from-a\nOTHER=x\n", { mode: 0o600 });
    const session = await openSession(sandbox, a, { target: "mine" });
    expect(await tool(session, "env", { names: ["SEEN", "FILE_TOKEN", "OTHER"] })).toEqual({ SEEN: "from-a", FILE_TOKEN: "from-a", OTHER: "x" });
    // No file in b yet: that child does not start; written, the next session's child does, without a restart.
    expect(await refused(sandbox, b, "mine")).toContain(`envFile ${join(b, ".env")} does not exist`);
    writeFileSync(join(b, ".env"), "FILE_TOKEN=from-b\n", { mode: 0o600 });
    const later = await openSession(sandbox, b, { target: "mine" });
    expect(await tool(later, "env", { names: ["SEEN"] })).toEqual({ SEEN: "from-b" });
    await Promise.all([session.close(), later.close()]);
  }, 90_000);
});

describe.skipIf(!KEYRING)("${secret:NAME} from the OS keychain", () => {
  test("a global child, an external server and a remote relay get their secrets; missing, they do not start and status says which", async () => {
    const api = Bun.spawn([BUN, SERVER, "http", "0"], { env: { ...process.env, EXPECT_AUTH: "keychain-api-value", EXPECT_FILE: "none" }, stdout: "pipe" });
    const reader = api.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    try {
      await using sandbox = new Sandbox({
        targets: {
          memory: { port: 0 },
          everyone: { command: BUN, args: [SERVER], share: "global", env: { SEEN: "${secret:shared.key}" } },
          ext: { command: BUN, args: [SERVER, "http", "{port}"], transport: "streamable-http", env: { EXPECT_AUTH: "${secret:api.key}", EXPECT_FILE: "none" } },
          remote: { url: `http://127.0.0.1:${port}/mcp`, headers: { Authorization: "Bearer ${secret:api.key}", "X-File": "none" } },
        },
      });
      await startKeyring(sandbox);
      const cwd = sandbox.project("p");

      // Nothing in the keychain yet: none of them starts, each names what is missing.
      expect(await refused(sandbox, cwd, "everyone")).toContain("${secret:shared.key} is not in the keychain (run: msm secret set shared.key)");
      expect(await refused(sandbox, cwd, "remote")).toContain("${secret:api.key} is not in the keychain (run: msm secret set api.key)");
      expect(await refused(sandbox, cwd, "ext")).toContain("${secret:api.key} is not in the keychain");
      for (const name of ["remote", "ext"]) {
        const row = await statusOf(sandbox, name);
        expect(row.state).toBe("failed");
        expect(row.note).toContain("${secret:api.key} is not in the keychain");
      }
      expect(sandbox.lock("remote")).toBeUndefined();

      // Set: the next session starts them — no restart needed.
      for (const [name, value] of [
        ["shared.key", "keychain-shared-value"],
        ["api.key", "keychain-api-value"],
      ]) {
        const child = Bun.spawn([MSM, "secret", "set", name!], {
          env: sandbox.env,
          stdin: new TextEncoder().encode(value!),
          stdout: "ignore",
        });
        expect(await child.exited).toBe(0);
      }
      const g = await openSession(sandbox, cwd, { target: "everyone" });
      expect(await tool(g, "env", { names: ["SEEN"] })).toEqual({ SEEN: "keychain-shared-value" });
      const r = await openSession(sandbox, cwd, { target: "remote" });
      expect(await tool(r, "whoami")).toEqual({ authorized: true, file: true, set: {} });
      const e = await openSession(sandbox, cwd, { target: "ext" });
      expect(await tool(e, "whoami", { names: ["EXPECT_AUTH"] })).toMatchObject({ set: { EXPECT_AUTH: true } });
      await waitFor(async () => (await statusOf(sandbox, "remote")).state === "running", 10_000, "remote to show running");
      await Promise.all([g.close(), r.close(), e.close()]);
    } finally {
      api.kill();
    }
  }, 120_000);
});
