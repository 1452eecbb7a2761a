// As an ordinary user would meet them: the editor session and the daemons run as an unprivileged uid (setpriv), so
// file modes bite — root ignores them — and "another user" is root and `nobody`, both real.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Sandbox, call } from "../../helpers/sandbox.ts";
import { OTHER_UID, VICTIM_UID, chownTo, isRoot, listTree, openSessionAs, sandboxFor, toolError } from "../../helpers/attacks.ts";

type Stats = { database: string; scope: string; why: string; entities: number };
const entity = (name: string) => ({ entities: [{ name, entityType: "note", observations: [`${name} happened`] }] });

let sandbox: Sandbox;
let cleanup: () => Promise<void>;

beforeAll(() => {
  if (!isRoot) return;
  ({ sandbox, cleanup } = sandboxFor(VICTIM_UID));
});
afterAll(async () => {
  await cleanup?.();
});

/** A project folder of the victim's (with .git). */
function project(name: string): string {
  const dir = sandbox.project(name);
  chownTo(join(sandbox.root, "projects"), VICTIM_UID, true);
  return dir;
}

// Dropping to another uid needs root; as an ordinary user the rest of the suite already runs unprivileged.
describe.skipIf(!isRoot)("an unprivileged user's memory", () => {
  test("a project whose database turns read-only answers an error naming it; nothing goes to the home database", async () => {
    const dir = project("goes-read-only");
    const claude = join(dir, ".claude");
    const file = join(claude, "memory.db");
    const session = await openSessionAs(sandbox, VICTIM_UID, dir);
    try {
      await call(session.client, "create_entities", entity("before"));
      chmodSync(file, 0o444);
      chmodSync(claude, 0o555);
      const text = await toolError(session.client, "create_entities", entity("while read-only"));
      expect(text).toContain(`The project's memory database ${file} cannot be written`);
      expect(text).toContain("msm will not write this project's memory anywhere else");
      expect(text).toContain("chmod u+w");
      expect(existsSync(join(sandbox.home, ".claude", "memory.db"))).toBe(false);

      // Writable again: the same file, with everything acknowledged so far and nothing lost elsewhere.
      chmodSync(claude, 0o700);
      chmodSync(file, 0o600);
      await call(session.client, "create_entities", entity("after"));
      const stats = await call<Stats>(session.client, "memory_stats");
      expect(stats).toMatchObject({ database: file, scope: "project", entities: 2 });
      expect(existsSync(join(sandbox.home, ".claude", "memory.db"))).toBe(false);
    } finally {
      chmodSync(claude, 0o700);
      await session.close();
    }
  }, 30_000);

  test("a read-only project folder with no database yet uses the home database, and memory_stats says why", async () => {
    const dir = project("read-only-from-the-start");
    chmodSync(dir, 0o555);
    const session = await openSessionAs(sandbox, VICTIM_UID, dir);
    try {
      await call(session.client, "create_entities", entity("kept at home"));
      const stats = await call<Stats>(session.client, "memory_stats");
      expect(stats).toMatchObject({ database: join(sandbox.home, ".claude", "memory.db"), scope: "home", entities: 1 });
      expect(stats.why).toBe(
        `${dir} is read-only, so it cannot hold ${join(dir, ".claude", "memory.db")}; it has no database yet, so the home database is used`,
      );
      expect(existsSync(join(dir, ".claude"))).toBe(false);
    } finally {
      chmodSync(dir, 0o755);
      await session.close();
    }
  }, 30_000);

  test("a .claude another user planted in a shared folder above the working directory does not capture the session", async () => {
    // Like /tmp: owned by root, sticky, writable by everyone; `nobody` got there first.
    const shared = join(sandbox.root, "shared");
    mkdirSync(join(shared, ".claude"), { recursive: true, mode: 0o777 });
    chmodSync(join(shared, ".claude"), 0o777);
    chownTo(join(shared, ".claude"), OTHER_UID);
    chmodSync(shared, 0o1777);
    chownTo(shared, 0);
    const work = join(shared, "scratch");
    mkdirSync(work);
    chownTo(work, VICTIM_UID);
    const session = await openSessionAs(sandbox, VICTIM_UID, work);
    try {
      await call(session.client, "create_entities", entity("private"));
      const stats = await call<Stats>(session.client, "memory_stats");
      expect(stats).toMatchObject({ database: join(work, ".claude", "memory.db"), scope: "project" });
      expect(listTree(join(shared, ".claude"))).toEqual([]);
    } finally {
      await session.close();
    }
  }, 30_000);

  test("the daemon runs as the user, not as root", async () => {
    const session = await openSessionAs(sandbox, VICTIM_UID, project("who"));
    try {
      const { pid } = sandbox.lock("memory")!;
      const status = await Bun.file(`/proc/${pid}/status`).text();
      expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(VICTIM_UID));
    } finally {
      await session.close();
    }
  }, 30_000);
});
