// Redaction everywhere: marker values planted in an environment variable a reference reads, in an envFile and in the
// OS keychain reach the servers that use them (their tool answers say so: the user's own data), and nothing of msm's
// holds one — no file under MSM_HOME (config, locks, logs, state, caches), no command's output (status, status --json,
// doctor, generate-config, logs, secret list), no answer of the dashboard's API, no proxy's stderr — even with debug
// logging on, a server that prints its secrets on stderr, and a crash whose last lines status shows.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { textOf } from "../helpers/hosted.ts";
import { KEYRING, startKeyring } from "../helpers/keyring.ts";
import { MSM, msm, openSession, Sandbox, waitFor, type Session } from "../helpers/sandbox.ts";

const SERVER = join(import.meta.dir, "../fixtures/secret-server.ts");
const BUN = process.execPath;
const random = () => crypto.randomUUID().replaceAll("-", "");

async function tool(session: Session, name: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const result = await session.client.callTool({ name, arguments: args });
  return JSON.parse(textOf(result));
}

/** Every regular file under `dir`, recursively, with its bytes as text (binary files too: a marker is ASCII). */
function everyFile(dir: string): [string, string][] {
  const out: [string, string][] = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) out.push([path, readFileSync(path, "latin1")]);
    } catch {}
  }
  return out;
}

describe.skipIf(!KEYRING)("no resolved secret in anything of msm's", () => {
  test("markers from a variable, an envFile and the keychain reach the servers and nothing msm writes or prints", async () => {
    const markers = { env: `marker-env-${random()}`, file: `marker-file-${random()}`, keychain: `marker-keychain-${random()}` };
    const api = Bun.spawn([BUN, SERVER, "http", "0"], { env: { ...process.env, EXPECT_AUTH: markers.keychain, EXPECT_FILE: markers.file }, stdout: "pipe" });
    const port = Number(new TextDecoder().decode((await api.stdout.getReader().read()).value).trim());
    try {
      await using sandbox = new Sandbox({});
      // Outside MSM_HOME: the envFile is the user's own file, which holds the marker by design.
      const envFile = join(sandbox.root, "secrets.env");
      writeFileSync(envFile, `FILE_SECRET_TOKEN=${markers.file}\n`, { mode: 0o600 });
      sandbox.writeConfig({
        targets: {
          memory: { port: 0 },
          proj: {
            command: BUN,
            args: [SERVER, "--token=${FIXTURE_API_TOKEN}"],
            env: { FROM_KEYCHAIN: "${secret:fixture.key}", FROM_FILE: "${FILE_SECRET_TOKEN}", FROM_SESSION: "${FIXTURE_API_TOKEN}" },
            envFile,
          },
          glob: { command: BUN, args: [SERVER], share: "global", env: { FROM_KEYCHAIN: "${secret:fixture.key}", FROM_FILE: "${FILE_SECRET_TOKEN}" }, envFile },
          ext: {
            command: BUN,
            args: [SERVER, "http", "{port}"],
            transport: "streamable-http",
            env: { EXPECT_AUTH: "${secret:fixture.key}", EXPECT_FILE: "${FILE_SECRET_TOKEN}" },
            envFile,
          },
          api: { url: `http://127.0.0.1:${port}/mcp`, headers: { Authorization: "Bearer ${secret:fixture.key}", "X-File": "${FILE_SECRET_TOKEN}" }, envFile },
          missing: { command: BUN, args: [SERVER], share: "global", env: { A: "${secret:not.there}", B: "${NOT_SET_TOKEN}" } },
        },
      });
      // Everything msm can say, said: debug lines in every log, and a crash loop ends after two crashes.
      sandbox.env.MSM_DEBUG = "1";
      sandbox.env.MSM_BACKOFF_MS = "100";
      await startKeyring(sandbox);
      const set = Bun.spawn([MSM, "secret", "set", "fixture.key"], { env: sandbox.env, stdin: new TextEncoder().encode(markers.keychain), stdout: "pipe" });
      expect(await set.exited).toBe(0);
      const cwd = sandbox.project("a");
      const outputs: [string, string][] = [];

      // The servers got every value (their answers are the user's own data).
      const proj = await openSession(sandbox, cwd, { target: "proj", env: { FIXTURE_API_TOKEN: markers.env } });
      expect(await tool(proj, "env", { names: ["FROM_KEYCHAIN", "FROM_FILE", "FROM_SESSION"] })).toEqual({
        FROM_KEYCHAIN: markers.keychain,
        FROM_FILE: markers.file,
        FROM_SESSION: markers.env,
      });
      expect(await tool(proj, "argv")).toEqual([`--token=${markers.env}`]);
      for (const name of ["FROM_KEYCHAIN", "FROM_FILE", "FROM_SESSION"]) await tool(proj, "shout", { name });

      const glob = await openSession(sandbox, cwd, { target: "glob" });
      expect(await tool(glob, "env", { names: ["FROM_KEYCHAIN", "FROM_FILE"] })).toEqual({ FROM_KEYCHAIN: markers.keychain, FROM_FILE: markers.file });
      // Two crashes, each printing every secret it has on the way out: the child is failed, and status shows its last lines.
      for (let i = 0; i < 2; i++) {
        await glob.client.callTool({ name: "crash", arguments: {} }).catch(() => {});
        if (i === 0) await waitFor(async () => JSON.stringify(JSON.parse((await msm(sandbox, ["status", "--json"])).stdout)).includes('"running"'), 10_000);
      }
      await waitFor(async () => (await msm(sandbox, ["status", "--json"])).stdout.includes('"failed"'), 10_000, "the global child to fail");

      const ext = await openSession(sandbox, cwd, { target: "ext" });
      expect(await tool(ext, "whoami", { names: ["EXPECT_AUTH", "EXPECT_FILE"] })).toMatchObject({ set: { EXPECT_AUTH: true, EXPECT_FILE: true } });
      const remote = await openSession(sandbox, cwd, { target: "api" });
      expect(await tool(remote, "whoami")).toEqual({ authorized: true, file: true, set: {} });

      // A target that cannot start names what is missing.
      let refused = "";
      await openSession(sandbox, cwd, { target: "missing" }).catch((error: Error) => (refused = error.message));
      expect(refused).toContain("${secret:not.there} is not in the keychain");
      expect(refused).toContain("${NOT_SET_TOKEN} (in env.B) is not set");
      outputs.push(["missing's session error", refused]);

      // Every command's output.
      const commands = [
        ["status"],
        ["status", "--json"],
        ["doctor"],
        ["doctor", "--json"],
        ["generate-config"],
        ["secret", "list"],
        ["secret", "list", "--json"],
        ...["proj", "glob", "ext", "api", "missing", "memory", "supervisor"].map((name) => ["logs", name, "-n", "1000"]),
      ];
      for (const args of commands) {
        const out = await msm(sandbox, args);
        outputs.push([`msm ${args.join(" ")}`, out.stdout + out.stderr]);
      }
      const status = JSON.parse((await msm(sandbox, ["status", "--json"])).stdout);
      const failed = status.targets.find((t: { name: string }) => t.name === "glob").children[0];
      expect(failed.state).toBe("failed");
      expect(failed.lastStderr.join("\n")).toContain("crashing with");
      // Masked, not absent: the lines are there, the values are not.
      const projLog = (await msm(sandbox, ["logs", "proj", "-n", "1000"])).stdout;
      expect(projLog).toContain("shouting FROM_KEYCHAIN: [secret]");
      expect(projLog).toContain("--token=[secret]");

      // The dashboard's API, as the browser sees it.
      const link = (await msm(sandbox, ["ui", "--no-open"])).stdout.trim();
      const login = await fetch(link, { redirect: "manual", headers: { "sec-fetch-site": "cross-site" } });
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      const origin = new URL(link).origin;
      for (const path of ["/ui/api/status", ...["proj", "glob", "ext", "api", "missing", "supervisor"].map((n) => `/ui/api/logs/${n}`)]) {
        const answer = await fetch(`${origin}${path}`, { headers: { cookie } });
        expect(answer.status).toBe(200);
        outputs.push([`dashboard ${path}`, await answer.text()]);
      }
      for (const session of [proj, glob, ext, remote]) outputs.push([`proxy stderr (pid ${session.pid})`, session.stderr()]);

      const leaks = (things: [string, string][]) =>
        things.flatMap(([where, text]) => Object.entries(markers).flatMap(([kind, marker]) => (text.includes(marker) ? [`${kind} marker in ${where}`] : [])));
      expect(leaks(outputs)).toEqual([]);
      const files = everyFile(sandbox.msmHome);
      expect(files.length).toBeGreaterThan(10);
      expect(leaks(files)).toEqual([]);

      // And once everything has stopped and written its last words.
      await Promise.all([proj.close(), glob.close(), ext.close(), remote.close()]);
      expect((await msm(sandbox, ["stop", "--all"])).code).toBe(0);
      expect(leaks(everyFile(sandbox.msmHome))).toEqual([]);
    } finally {
      api.kill();
    }
  }, 180_000);
});
