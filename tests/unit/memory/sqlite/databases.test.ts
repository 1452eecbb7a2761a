import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Databases, chooseDatabase, homeDatabasePath, requestProject } from "../../../../src/memory/sqlite/databases.ts";

function projectDir(): string {
  const dir = realpathSync(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "project-")));
  mkdirSync(join(dir, ".git"));
  return dir;
}

function recorder() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) } };
}

/**
 * Makes a folder unwritable even for root, who ignores modes: `chattr +i` (immutable) as root, chmod 0555 otherwise.
 * Returns the undo.
 */
export function makeReadOnly(path: string): () => void {
  if (process.getuid?.() === 0) {
    Bun.spawnSync(["chattr", "+i", path]);
    return () => void Bun.spawnSync(["chattr", "-i", path]);
  }
  const mode = statSync(path).mode & 0o7777;
  chmodSync(path, 0o555);
  return () => chmodSync(path, mode);
}

describe("which database a request uses", () => {
  test("a project's .claude/memory.db, created private; no project means the home database", () => {
    const dir = projectDir();
    expect(chooseDatabase(dir)).toEqual({
      file: join(dir, ".claude", "memory.db"),
      scope: "project",
      why: `the project ${dir} keeps its memory in its .claude folder`,
    });
    expect(statSync(join(dir, ".claude")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, ".claude", "memory.db")).mode & 0o777).toBe(0o600);
    expect(chooseDatabase(undefined)).toEqual({ file: homeDatabasePath(), scope: "home", why: "the session has no project" });
  });

  test("a project folder that disappears is an error naming it, never the home database; one log line each way", async () => {
    const dir = projectDir();
    const { lines, log } = recorder();
    const databases = new Databases(log);
    try {
      const inProject = () => requestProject.run(dir, () => databases.current());
      await inProject().createEntities([{ name: "in project", entityType: "t", observations: [] }]);
      rmSync(dir, { recursive: true, force: true });
      expect(inProject).toThrow(`The project path ${dir} does not exist`);
      expect(inProject).toThrow();
      expect(lines.filter((l) => l.startsWith("warn"))).toHaveLength(1);
      mkdirSync(dir);
      expect(inProject().file).toBe(join(dir, ".claude", "memory.db"));
      expect(lines).toContain(`info project ${dir} is usable again: using ${join(dir, ".claude", "memory.db")}`);
      expect(lines).toContain(`info closed ${join(dir, ".claude", "memory.db")} (its file is gone)`);
      // The re-created folder gets a fresh database, not the deleted file that was still open.
      expect((await inProject().readGraph()).entities).toEqual([]);
    } finally {
      await databases.closeAll();
    }
  }, 20_000);

  test("a path that is a file, not a folder, is refused", () => {
    const file = join(projectDir(), "not-a-dir");
    writeFileSync(file, "");
    expect(() => chooseDatabase(file)).toThrow(`The project path ${file} is not a directory`);
  });

  test("a read-only project with no database yet uses the home database, and says why", () => {
    const dir = projectDir();
    const undo = makeReadOnly(dir);
    try {
      const choice = chooseDatabase(dir);
      expect(choice.file).toBe(homeDatabasePath());
      expect(choice.scope).toBe("home");
      expect(choice.why).toBe(
        `${dir} is read-only, so it cannot hold ${join(dir, ".claude", "memory.db")}; it has no database yet, so the home database is used`,
      );
    } finally {
      undo();
    }
  });
});

describe("open databases are bounded", () => {
  test("least recently used is closed past the limit; idle ones are closed by the sweep", async () => {
    const { lines, log } = recorder();
    const databases = new Databases(log, { maxOpen: 2, idleMs: 60_000 });
    try {
      const files = [1, 2, 3].map(() => join(projectDir(), "memory.db"));
      databases.get(files[0]!);
      databases.get(files[1]!);
      databases.get(files[0]!); // now files[1] is the least recently used
      databases.get(files[2]!);
      expect(databases.openFiles()).toEqual([files[0]!, files[2]!]);
      expect(lines).toContain(`info closed ${files[1]} (too many open databases)`);
      // A closed store reopens transparently with its data.
      await databases.get(files[1]!).createEntities([{ name: "kept", entityType: "t", observations: [] }]);
      databases.closeIdle(Date.now() + 61_000);
      expect(databases.openFiles()).toEqual([]);
      expect((await databases.get(files[1]!).readGraph()).entities.map((e) => e.name)).toEqual(["kept"]);
    } finally {
      await databases.closeAll();
    }
  }, 20_000);
});
