// A user with an accented name must have memory on any platform. The project folder travels from the proxy to the
// daemons in a header, which carries bytes: sent raw, `Proj é` arrived as `Proj Ã©` and was refused as missing
// (reproduced natively on Linux; on Windows every project under C:\Users\José). Driven as an editor does: the real SDK
// client spawning dist/msm proxy in the folder.
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FILESYSTEM, NODE, textOf } from "../helpers/hosted.ts";
import { Sandbox, call, openSession, type Session } from "../helpers/sandbox.ts";

const NAMES = ["Proj é", "Проекты/x", "日本語 😀", "José's 100% \"quoted\""];

describe("project folders with non-ASCII names", () => {
  test("memory keeps each project's graph in its own folder, and a hosted server is started in it", async () => {
    const sandbox = new Sandbox({ targets: { memory: { port: 0 }, fs: { command: NODE, args: [FILESYSTEM, "{project}"] } } });
    const opened: Session[] = [];
    try {
      for (const name of NAMES) {
        const dir = sandbox.project(name);
        const s = await openSession(sandbox, dir);
        opened.push(s);
        await call(s.client, "create_entities", { entities: [{ name: `in ${name}`, entityType: "t", observations: [name] }] });
        const stats = await call<{ scope: string; database: string }>(s.client, "memory_stats");
        expect(stats).toMatchObject({ scope: "project", database: join(dir, ".claude", "memory.db") });
        expect(existsSync(join(dir, ".claude", "memory.db"))).toBe(true);
        const found = await call<{ entities: { name: string }[] }>(s.client, "search_nodes", { query: name });
        expect(found.entities.map((e) => e.name)).toEqual([`in ${name}`]);
      }
      // A stdio host gets the folder too: the child runs there, with {project} replaced by it.
      const dir = sandbox.project(NAMES[0]!);
      writeFileSync(join(dir, "é.txt"), "accent");
      const fs = await openSession(sandbox, dir, { target: "fs" });
      opened.push(fs);
      expect(textOf(await fs.client.callTool({ name: "list_allowed_directories", arguments: {} }))).toContain(dir);
      expect(textOf(await fs.client.callTool({ name: "read_text_file", arguments: { path: join(dir, "é.txt") } }))).toBe("accent");
    } finally {
      for (const s of opened) await s.close();
      await sandbox.cleanup();
    }
  }, 120_000);
});
