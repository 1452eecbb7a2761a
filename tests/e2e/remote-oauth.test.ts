// A remote (`"url"`) target protected by OAuth: `msm login` runs the authorization-code flow with PKCE once
// (dynamic client registration, the browser played by the test following the printed URL), and three editor sessions
// then share that one login through one relay that alone refreshes the short-lived, rotating tokens — no session
// races another's refresh (the test server revokes the grant if a refresh token is ever used twice). msm's bearer
// token and project paths never reach the remote server. `msm status` shows the login; `msm logout` forgets it.
import { expect, test } from "bun:test";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSM, Sandbox, msm, openSession, requireBinary, waitFor } from "../helpers/sandbox.ts";

const SLOW = 90_000;
const FIXTURE = resolve(import.meta.dir, "../fixtures/oauth-server.ts");
/** Access tokens live this long, so the sessions below outlive several of them. */
const TTL_SECONDS = 2;

interface Stats {
  foreignBearers: string[];
  registrations: number;
  authorizations: number;
  refreshes: number;
  clientCredentials: number;
  refusedClients: number;
  reuseDetected: number;
  leaks: number;
  sessions: number;
}

async function startOAuthServer(sandbox: Sandbox): Promise<{ base: string; stats: () => Promise<Stats> }> {
  const child = Bun.spawn([process.execPath, FIXTURE, String(TTL_SECONDS)], { env: sandbox.env, stdout: "pipe", stderr: "inherit" });
  sandbox.track(child.pid);
  let output = "";
  void (async () => {
    for await (const chunk of child.stdout) output += new TextDecoder().decode(chunk);
  })();
  const port = await waitFor(() => /listening on port (\d+)/.exec(output)?.[1], 20_000, "the OAuth server to listen");
  const base = `http://127.0.0.1:${port}`;
  return { base, stats: async () => (await (await fetch(`${base}/stats`)).json()) as Stats };
}

/** `msm login NAME` with the test as the person at the browser: follow the printed URL, approve, get redirected. */
async function login(sandbox: Sandbox, name: string): Promise<{ code: number; stdout: string }> {
  requireBinary();
  const child = Bun.spawn([MSM, "login", name], { env: { ...sandbox.env, BROWSER: "true" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  sandbox.track(child.pid);
  let stdout = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) stdout += new TextDecoder().decode(chunk);
  })();
  const url = await waitFor(() => /(http:\/\/127\.0\.0\.1:\d+\/authorize\S+)/.exec(stdout)?.[1], 20_000, "the authorization URL");
  const page = await fetch(url);
  expect(await page.text()).toContain("logged in");
  const code = await child.exited;
  await reading;
  return { code, stdout };
}

test(
  "three sessions share one OAuth login and one refresher; msm login / status / logout",
  async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    try {
      const server = await startOAuthServer(sandbox);
      sandbox.writeConfig({ targets: { memory: { port: 0 }, remote: { url: `${server.base}/mcp` } } });
      const project = sandbox.project("p");

      // Before any login the editor is told what to run, not left hanging (no browser here: the wait is cut short).
      const early = await openSession(sandbox, project, { target: "remote", env: { BROWSER: "true", MSM_LOGIN_WAIT_MS: "300" } }).then(
        (s) => s.close().then(() => "connected"),
        (error: Error) => error.message,
      );
      expect(early).toContain("msm login remote");

      const first = await login(sandbox, "remote");
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("Logged in to remote");
      expect(statSync(join(sandbox.msmHome, "auth", "remote.json")).mode & 0o777).toBe(0o600);

      const sessions = await Promise.all([0, 1, 2].map((i) => openSession(sandbox, project, { target: "remote", clientName: `editor-${i}` })));
      // Calls from every session, concurrently, for longer than several token lifetimes.
      const until = Date.now() + TTL_SECONDS * 1000 * 3;
      let calls = 0;
      while (Date.now() < until) {
        const results = await Promise.all(sessions.map((s) => s.client.callTool({ name: "whoami", arguments: {} })));
        for (const r of results) expect((r.content as { text: string }[])[0]!.text).toBe("an authorized caller");
        calls += results.length;
        await Bun.sleep(100);
      }
      const stats = await server.stats();
      expect(calls).toBeGreaterThan(9);
      // The early session's relay began a login of its own (no browser, never finished) on another loopback port,
      // so msm login may have registered once more; one authorization, one grant, either way.
      expect(stats.registrations).toBeLessThanOrEqual(2);
      expect(stats.authorizations).toBe(1);
      expect(stats.refreshes).toBeGreaterThanOrEqual(2);
      expect(stats.reuseDetected).toBe(0);
      // msm's secrets stay home: no project path, no bearer value the server did not issue (msm's token is one).
      expect(stats.leaks).toBe(0);
      expect(stats.foreignBearers).not.toContain(sandbox.token());
      expect(stats.foreignBearers).toEqual([]);
      // One MCP session per editor session, all through one relay process.
      expect(stats.sessions).toBe(3);
      const relay = sandbox.lock("remote");
      expect(relay?.pid).toBeGreaterThan(0);

      const status = await msm(sandbox, ["status"]);
      expect(status.stdout).toMatch(/remote.*logged in/i);
      const json = JSON.parse((await msm(sandbox, ["status", "--json"])).stdout) as {
        logins?: Record<string, { loggedIn: boolean; expiresAt: number | null }>;
      };
      expect(json.logins?.remote?.loggedIn).toBe(true);
      expect(json.logins?.remote?.expiresAt).toBeGreaterThan(Date.now() - TTL_SECONDS * 1000);

      const out = await msm(sandbox, ["logout", "remote"]);
      expect(out.stdout).toContain("Logged out of remote");
      expect((await msm(sandbox, ["status"])).stdout).toMatch(/remote.*not logged in/i);
      await Promise.all(sessions.map((s) => s.close()));
    } catch (error) {
      console.error(
        await Bun.file(join(sandbox.msmHome, "logs", "remote.log"))
          .text()
          .catch(() => "(no relay log)"),
      );
      throw error;
    }
  },
  SLOW,
);

test(
  "the first session that needs a login opens the browser; once approved, its request goes on and later sessions share the login",
  async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    const server = await startOAuthServer(sandbox);
    sandbox.writeConfig({ targets: { memory: { port: 0 }, remote: { url: `${server.base}/mcp` } } });
    // $BROWSER: a person who approves at once.
    const browser = join(sandbox.root, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" "${resolve(import.meta.dir, "../fixtures/browser.ts")}" "$1"\n`);
    chmodSync(browser, 0o755);
    const project = sandbox.project("p");
    // Its initialize waits while the browser logs in, then goes on: the editor never sees the 401.
    const first = await openSession(sandbox, project, { target: "remote", env: { BROWSER: browser } });
    const answer = await first.client.callTool({ name: "whoami", arguments: {} });
    expect((answer.content as { text: string }[])[0]!.text).toBe("an authorized caller");
    const second = await openSession(sandbox, project, { target: "remote" });
    const result = await second.client.callTool({ name: "whoami", arguments: {} });
    expect((result.content as { text: string }[])[0]!.text).toBe("an authorized caller");
    const stats = await server.stats();
    expect(stats.authorizations).toBe(1);
    expect(stats.registrations).toBe(1);
    expect(statSync(join(sandbox.msmHome, "auth", "remote.json")).mode & 0o777).toBe(0o600);
    await Promise.all([first.close(), second.close()]);
  },
  SLOW,
);

test(
  "a client-credentials target: the relay gets and renews its tokens itself, no browser; a wrong secret is named",
  async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    try {
      const server = await startOAuthServer(sandbox);
      const machine = (secret: string) => ({ url: `${server.base}/mcp`, oauth: { clientId: "machine", clientSecret: secret, grant: "client_credentials" } });
      const targets = { memory: { port: 0 }, robot: machine("machine-secret"), wrong: machine("not-the-secret") };
      sandbox.writeConfig({ targets });
      const project = sandbox.project("p");
      // $BROWSER fails the test if anything opens it: a machine client has no person to ask.
      const browser = join(sandbox.root, "browser.sh");
      const opened = join(sandbox.root, "browser-opened");
      writeFileSync(browser, `#!/bin/sh\necho "$1" >> "${opened}"\n`);
      chmodSync(browser, 0o755);
      const env = { BROWSER: browser };
      const sessions = await Promise.all([0, 1].map((i) => openSession(sandbox, project, { target: "robot", clientName: `editor-${i}`, env })));
      // Longer than several token lifetimes: with no refresh token, the relay asks for a new access token each time.
      const until = Date.now() + TTL_SECONDS * 1000 * 3;
      while (Date.now() < until) {
        const results = await Promise.all(sessions.map((s) => s.client.callTool({ name: "whoami", arguments: {} })));
        for (const r of results) expect((r.content as { text: string }[])[0]!.text).toBe("an authorized caller");
        await Bun.sleep(100);
      }
      const stats = await server.stats();
      expect(stats.clientCredentials).toBeGreaterThanOrEqual(3);
      expect(stats.authorizations).toBe(0);
      expect(stats.registrations).toBe(0);
      expect(stats.leaks).toBe(0);
      expect(stats.foreignBearers).toEqual([]);
      expect(await Bun.file(opened).exists()).toBe(false);
      expect(statSync(join(sandbox.msmHome, "auth", "robot.json")).mode & 0o777).toBe(0o600);
      expect((await msm(sandbox, ["status"])).stdout).toMatch(/robot.*logged in.*refreshed by msm/i);
      await Promise.all(sessions.map((s) => s.close()));

      // `msm login` gets a token the same way, printing no address to open.
      const login = await msm(sandbox, ["login", "robot"], env);
      expect(login.stdout).toContain("Logged in to robot");
      expect(login.stdout).not.toContain("Open this address");

      // A refused secret: the editor is told what was refused and where to look, at once (no login wait).
      const refused = await openSession(sandbox, project, { target: "wrong", env }).then(
        (s) => s.close().then(() => "connected"),
        (error: Error) => error.message,
      );
      expect(refused).toContain("refused msm's client credentials");
      expect((await server.stats()).refusedClients).toBeGreaterThanOrEqual(1);
      expect(await Bun.file(opened).exists()).toBe(false);
    } catch (error) {
      console.error(
        await Bun.file(join(sandbox.msmHome, "logs", "robot.log"))
          .text()
          .catch(() => "(no relay log)"),
      );
      throw error;
    }
  },
  SLOW,
);
