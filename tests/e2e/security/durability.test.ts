// "Acknowledged" means on disk: every database msm opens for writing syncs each commit (survives power loss, not
// only a crash of the process). The cost per commit is measured in `npm run bench durability`, not here.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, call, openSession } from "../../helpers/sandbox.ts";
import { GraphStore } from "../../../src/memory/sqlite/store.ts";

describe("acknowledged writes are durable", () => {
  test("the store runs WAL with synchronous=FULL", () => {
    const store = new GraphStore(join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "durable-")), "memory.db"));
    try {
      expect(store.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      expect(store.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 });
    } finally {
      store.close();
    }
  }, 10_000);

  test("a write the session saw succeed survives a SIGKILL of the daemon right after the answer", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("p");
    const session = await openSession(sandbox, project);
    await call(session.client, "create_entities", { entities: [{ name: "kept", entityType: "t", observations: ["acknowledged"] }] });
    process.kill(sandbox.lock("memory")!.pid, "SIGKILL");
    const store = new GraphStore(join(project, ".claude", "memory.db"), { readonly: true });
    try {
      expect(store.openNodes(["kept"]).entities).toEqual([{ name: "kept", entityType: "t", observations: ["acknowledged"] }]);
    } finally {
      store.close();
    }
    await session.close();
  }, 30_000);
});
