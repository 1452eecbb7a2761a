// Private by default, whatever the umask: what msm creates is the user's alone; state another user controls is refused.
import { describe, expect, test } from "bun:test";
import { chmodSync, statSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, call, openSession } from "../../helpers/sandbox.ts";
import { OTHER_UID, chownTo, listTree } from "../../helpers/attacks.ts";

const mode = (path: string) => statSync(path).mode & 0o777;
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });

function proxy(sandbox: Sandbox, cwd: string) {
  const result = Bun.spawnSync([MSM, "proxy", "--target", "memory"], { env: sandbox.env, cwd, stdin: Buffer.from(INIT + "\n") });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("files msm creates are private", () => {
  test("under umask 000: .claude 0700, databases 0600, logs 0600, MSM_HOME 0700, token and locks 0600", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    // Set after the project exists: a world-writable project folder is (rightly) no project at all.
    const umask = process.umask(0);
    try {
      const inProject = await openSession(sandbox, project);
      const noProject = await openSession(sandbox, "/");
      await call(inProject.client, "create_entities", { entities: [{ name: "a", entityType: "t", observations: ["o"] }] });
      await call(noProject.client, "create_entities", { entities: [{ name: "b", entityType: "t", observations: ["o"] }] });
      const home = await call<{ database: string; scope: string; why: string }>(noProject.client, "memory_stats");
      expect(home).toMatchObject({ database: join(sandbox.home, ".claude", "memory.db"), scope: "home", why: "the session has no project" });

      for (const dir of [join(project, ".claude"), join(sandbox.home, ".claude"), sandbox.msmHome, join(sandbox.msmHome, "logs")]) expect([dir, mode(dir)]).toEqual([dir, 0o700]);
      const files = [
        ...["memory.db", "memory.db-wal", "memory.db-shm"].flatMap((f) => [join(project, ".claude", f), join(sandbox.home, ".claude", f)]),
        join(sandbox.msmHome, "token"),
        ...listTree(sandbox.msmHome).filter((f) => f.endsWith(".lock")).map((f) => join(sandbox.msmHome, f)),
        ...listTree(join(sandbox.msmHome, "logs")).map((f) => join(sandbox.msmHome, "logs", f)),
      ];
      expect(files.filter((f) => f.endsWith(".log")).length).toBeGreaterThanOrEqual(2); // memory.log and supervisor.log
      expect(files.filter((f) => f.endsWith(".lock")).length).toBeGreaterThanOrEqual(2);
      for (const file of files) expect([file, mode(file)]).toEqual([file, 0o600]);
      await inProject.close();
      await noProject.close();
    } finally {
      process.umask(umask);
    }
  }, 30_000);
});

describe("state another user controls is refused before anything runs", () => {
  test("an MSM_HOME owned by another user, or writable by others", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    chownTo(sandbox.msmHome, OTHER_UID, true);
    const theirs = proxy(sandbox, project);
    expect(theirs.code).not.toBe(0);
    expect(theirs.stdout).toBe("");
    expect(theirs.stderr).toContain(`The state directory ${sandbox.msmHome} is owned by uid ${OTHER_UID}, not by you`);
    expect(theirs.stderr).toContain("point MSM_HOME at a folder you own");

    chownTo(sandbox.msmHome, process.getuid!(), true);
    chmodSync(sandbox.msmHome, 0o777);
    const loose = proxy(sandbox, project);
    expect(loose.code).not.toBe(0);
    expect(loose.stderr).toContain(`is writable by every user (mode 0777)`);
    expect(loose.stderr).toContain(`chmod 700 ${sandbox.msmHome}`);
    expect(listTree(sandbox.msmHome)).toEqual(["config.json"]); // no token, lock or log was written
  }, 30_000);

  test("a config.json (it runs commands) owned by another user, or writable by others", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, evil: { command: "/bin/sh", args: ["-c", "touch /tmp/owned"] } } });
    const project = sandbox.project("p");
    const config = join(sandbox.msmHome, "config.json");
    chownTo(config, OTHER_UID);
    const theirs = proxy(sandbox, project);
    expect(theirs.code).not.toBe(0);
    expect(theirs.stderr).toContain(`${config} is owned by uid ${OTHER_UID}, not by you`);

    chownTo(config, process.getuid!());
    chmodSync(config, 0o666);
    const loose = proxy(sandbox, project);
    expect(loose.code).not.toBe(0);
    expect(loose.stderr).toContain(`${config} is writable by every user (mode 0666)`);
    expect(loose.stderr).toContain(`chmod go-w ${config}`);
    expect(sandbox.lockPids()).toEqual([]); // nothing was started from it

    chmodSync(config, 0o644);
    expect(proxy(sandbox, project).stdout).toContain('"serverInfo"');
  }, 30_000);
});
