// Private by default, whatever the umask: what msm creates is the user's alone; state another user controls is refused.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, call, openSession } from "../../helpers/sandbox.ts";
import { OTHER_UID, asUser, binaryForOthers, chownTo, isRoot, listTree } from "../../helpers/attacks.ts";

const mode = (path: string) => statSync(path).mode & 0o777;
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });

function proxy(sandbox: Sandbox, cwd: string) {
  const result = Bun.spawnSync([MSM, "proxy", "--target", "memory"], { env: sandbox.env, cwd, stdin: Buffer.from(INIT + "\n") });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("files msm creates are private", () => {
  test("under umask 000: .claude 0700, databases 0600, logs 0600, MSM_HOME 0700, token and locks 0600", async () => {
    const sandbox = new Sandbox();
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
      await sandbox.cleanup();
    }
  }, 30_000);
});

describe("state another user controls is refused before anything runs", () => {
  test("an MSM_HOME owned by another user, or writable by others", async () => {
    const sandbox = new Sandbox();
    try {
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
    } finally {
      await sandbox.cleanup();
    }
  }, 30_000);

  test("a config.json (it runs commands) owned by another user, or writable by others", async () => {
    const sandbox = new Sandbox({ targets: { memory: { port: 0 }, evil: { command: "/bin/sh", args: ["-c", "touch /tmp/owned"] } } });
    try {
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
    } finally {
      await sandbox.cleanup();
    }
  }, 30_000);
});

// Another uid needs root to become; as an ordinary user this is skipped.
describe.skipIf(!isRoot)("another user's msm status", () => {
  test("an MSM_HOME it cannot read is an access error naming the folder and what to run, not \"supervisor not running\"", async () => {
    // A sandbox another user can reach up to MSM_HOME itself (0700, root's), with root's supervisor running in it.
    const parent = mkdtempSync("/tmp/msm-sec-");
    chmodSync(parent, 0o755);
    const saved = process.env.MSM_TEST_ROOT;
    process.env.MSM_TEST_ROOT = parent;
    const sandbox = new Sandbox();
    process.env.MSM_TEST_ROOT = saved;
    const binary = binaryForOthers();
    try {
      chmodSync(sandbox.root, 0o755);
      chmodSync(sandbox.home, 0o755);
      const session = await openSession(sandbox, sandbox.project("p"));
      await call(session.client, "read_graph");
      expect(mode(sandbox.msmHome)).toBe(0o700);
      const mine = Bun.spawnSync([binary.path, "status", "--json"], { env: sandbox.env });
      expect(JSON.parse(mine.stdout.toString()).supervisor).not.toBeNull();

      for (const args of [["status"], ["status", "--json"]]) {
        const theirs = Bun.spawnSync([...asUser(OTHER_UID), binary.path, ...args], { env: { ...sandbox.env, HOME: "/tmp" } });
        const stderr = theirs.stderr.toString();
        expect(theirs.exitCode).toBe(1);
        expect(theirs.stdout.toString()).toBe("");
        expect(stderr).toContain(`msm: Cannot read ${sandbox.msmHome} (EACCES): it is owned by root (uid 0), mode 0700, and you are`);
        expect(stderr).toContain("MSM_HOME points at another user's msm. To see theirs, run it as them (sudo -u root msm status); to see your own, unset MSM_HOME.");
        expect(stderr).not.toContain("not running");
      }

      // The user's own default MSM_HOME, left root's by a `sudo msm …`: give it back. Their own, unreadable: chmod.
      const home = join(parent, "nobody-home");
      const state = join(home, ".mcp-session-manager");
      mkdirSync(state, { recursive: true, mode: 0o700 });
      chownTo(home, OTHER_UID);
      const env = { ...sandbox.env, HOME: home, MSM_HOME: "" };
      const sudoed = Bun.spawnSync([...asUser(OTHER_UID), binary.path, "status"], { env });
      expect(sudoed.exitCode).toBe(1);
      expect(sudoed.stderr.toString()).toContain(`give it back with sudo chown -R ${OTHER_UID} ${state}, then run msm status again`);
      chownTo(state, OTHER_UID);
      chmodSync(state, 0o000);
      const locked = Bun.spawnSync([...asUser(OTHER_UID), binary.path, "status"], { env });
      expect(locked.exitCode).toBe(1);
      expect(locked.stderr.toString()).toContain(`It is yours but not readable: run chmod u+rwx ${state}, then msm status again.`);
      await session.close();
    } finally {
      binary.remove();
      await sandbox.cleanup();
      rmSync(parent, { recursive: true, force: true });
    }
  }, 30_000);
});
