import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Databases, chooseDatabase, homeDatabasePath, requestProject } from "../../src/memory/databases.ts";

function projectDir(): string {
  const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT!, "project-"));
  mkdirSync(join(dir, ".git"));
  return dir;
}

function recorder() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) } };
}

describe("which database a request uses", () => {
  test("a project's .claude/memory.db; no project means the home database", () => {
    const dir = projectDir();
    expect(chooseDatabase(dir)).toEqual({ file: join(dir, ".claude", "memory.db") });
    expect(chooseDatabase(undefined)).toEqual({ file: homeDatabasePath() });
  });

  test("a project folder that disappears falls back to the home database, with one log line each way", async () => {
    const dir = projectDir();
    const { lines, log } = recorder();
    const databases = new Databases(log);
    try {
      const inProject = () => requestProject.run(dir, () => databases.current());
      await inProject().createEntities([{ name: "in project", entityType: "t", observations: [] }]);
      rmSync(dir, { recursive: true, force: true });
      const fallback = inProject();
      expect(fallback.file).toBe(homeDatabasePath());
      inProject();
      expect(lines.filter((l) => l.startsWith("warn"))).toEqual([`warn project ${dir} does not exist: using the home database ${homeDatabasePath()}`]);
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

  test("a path that is a file, not a folder, falls back too", () => {
    const file = join(projectDir(), "not-a-dir");
    writeFileSync(file, "");
    expect(chooseDatabase(file)).toEqual({ file: homeDatabasePath(), fallback: `${file} is not a directory` });
  });

  test.skipIf(process.getuid?.() === 0)("a read-only project falls back to the home database", () => {
    const dir = projectDir();
    mkdirSync(join(dir, ".claude"));
    chmodSync(join(dir, ".claude"), 0o555);
    try {
      expect(chooseDatabase(dir).fallback).toBe(`${dir} is read-only`);
    } finally {
      chmodSync(join(dir, ".claude"), 0o755);
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
