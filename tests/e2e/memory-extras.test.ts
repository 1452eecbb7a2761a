import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Sandbox, call, openSession } from "../helpers/sandbox.ts";

type Graph = { entities: { name: string }[]; relations: unknown[] };

describe("msm's additions, through the proxy", () => {
  test("paging, memory_stats, rename, merge, details and node relations", async () => {
    await using sandbox = new Sandbox();
    const project = sandbox.project("extras");
    const s = await openSession(sandbox, project);
    await call(s.client, "create_entities", {
      entities: Array.from({ length: 5 }, (_, i) => ({ name: `Item ${i}`, entityType: "thing", observations: [`note ${i}`] })),
    });
    await call(s.client, "create_relations", { relations: [{ from: "Item 0", to: "Item 1", relationType: "next" }] });
    expect((await call<Graph>(s.client, "read_graph", { limit: 2, offset: 1 })).entities.map((e) => e.name)).toEqual(["Item 1", "Item 2"]);
    expect((await call<Graph>(s.client, "search_nodes", { query: "item 3" })).entities.map((e) => e.name)).toEqual(["Item 3"]);
    expect((await call<Graph>(s.client, "search_nodes", { query: "note", limit: 3 })).entities.length).toBe(3);

    const stats = await call<{
      database: string;
      scope: string;
      why: string;
      entities: number;
      observations: number;
      relations: number;
      bytes: number;
      backend: string;
    }>(s.client, "memory_stats");
    expect({ ...stats, bytes: 0 }).toEqual({
      database: join(project, ".claude", "memory.db"),
      scope: "project",
      why: `the project ${project} keeps its memory in its .claude folder`,
      entities: 5,
      observations: 5,
      relations: 1,
      bytes: 0,
      backend: "sqlite",
    });

    expect(await call(s.client, "rename_entity", { oldName: "Item 1", newName: "Second" })).toEqual({
      name: "Second",
      entityType: "thing",
      observations: ["note 1"],
    });
    expect(await call(s.client, "merge_entities", { sources: ["Item 2"], target: "Second" })).toEqual({
      name: "Second",
      entityType: "thing",
      observations: ["note 1", "note 2"],
    });
    expect(await call(s.client, "node_relations", { name: "Second", direction: "incoming" })).toEqual({
      relations: [{ from: "Item 0", to: "Second", relationType: "next" }],
    });
    const details = await call<{ createdAt: string; updatedAt: string; incomingRelations: number }>(s.client, "entity_details", { name: "Second" });
    expect(Date.parse(details.updatedAt)).toBeGreaterThanOrEqual(Date.parse(details.createdAt));
    expect(details.incomingRelations).toBe(1);

    const missing = await s.client.callTool({ name: "entity_details", arguments: { name: "nobody" } });
    expect(missing.isError).toBe(true);
    expect(missing.content).toEqual([{ type: "text", text: "Entity with name nobody not found" }]);
    await s.close();
  });
});
