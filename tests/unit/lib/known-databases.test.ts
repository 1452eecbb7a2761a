import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { knownDatabases, MAX_KNOWN_DATABASES, recordDatabase } from "../../../src/lib/known-databases.ts";
import { msmHome, paths } from "../../../src/lib/paths.ts";

test("the registry of opened memory databases: newest first, each file once, bounded; a bad file reads as empty", () => {
  mkdirSync(msmHome(), { recursive: true, mode: 0o700 });
  writeFileSync(paths.databases(), "{ not json");
  expect(knownDatabases()).toEqual([]);

  recordDatabase("/p/a/.claude/memory.db", new Date(1_000));
  recordDatabase("/p/b/.claude/memory.db", new Date(2_000));
  recordDatabase("/p/a/.claude/memory.db", new Date(3_000));
  expect(knownDatabases()).toEqual([
    { file: "/p/a/.claude/memory.db", lastOpened: new Date(3_000).toISOString() },
    { file: "/p/b/.claude/memory.db", lastOpened: new Date(2_000).toISOString() },
  ]);

  for (let i = 0; i < MAX_KNOWN_DATABASES + 5; i++) recordDatabase(`/p/${i}/.claude/memory.db`);
  const known = knownDatabases();
  expect(known).toHaveLength(MAX_KNOWN_DATABASES);
  expect(known[0]!.file).toBe(`/p/${MAX_KNOWN_DATABASES + 4}/.claude/memory.db`);
});
