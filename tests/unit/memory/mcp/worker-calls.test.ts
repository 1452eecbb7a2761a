// A tools/call answered on a database's worker thread (worker-calls.ts) must be the answer the session's McpServer
// gives, byte for byte: the same calls go to createMemoryServer (the SDK, as on the event loop) over one store and to
// the call runner over another, and their serialised JSON-RPC responses are compared.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Graph, GraphSource, StoreChoice } from "../../../../src/memory/types.ts";
import { createMemoryServer, Subscriptions } from "../../../../src/memory/mcp/server.ts";
import { GraphStore } from "../../../../src/memory/sqlite/store.ts";
import { createCallRunner, isPlainToolCall } from "../../../../src/memory/mcp/worker-calls.ts";

const freshStore = () => new GraphStore(join(mkdtempSync(join(process.env.MSM_TEST_ROOT!, "calls-")), "memory.db"));
const choice: StoreChoice = { scope: "project", why: "the project /p keeps its memory in its .claude folder", backend: "sqlite" };

/** The SDK's McpServer over `store`, answering one raw request at a time as its transport would serialise it. */
async function sdkServer(store: GraphStore) {
  const source: GraphSource = {
    backend: "sqlite",
    current: () => store as unknown as Graph,
    currentWithChoice: () => ({ store: store as unknown as Graph, choice }),
    closeAll: () => {},
  };
  const server = createMemoryServer(source, new Subscriptions());
  let answered: (message: JSONRPCMessage) => void = () => {};
  const transport: Transport = {
    start: async () => {},
    close: async () => {},
    send: async (message) => answered(message),
  };
  await server.connect(transport);
  return (request: object) =>
    new Promise<string>((resolve) => {
      answered = (message) => resolve(JSON.stringify(message));
      transport.onmessage?.(request as JSONRPCMessage);
    });
}

/** Paths and clock readings differ between the two stores; nothing else may. */
const normalise = (text: string, store: GraphStore) => text.replaceAll(store.file, "<db>").replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>");

const CALLS: [string, unknown][] = [
  ["read_graph", undefined],
  [
    "create_entities",
    {
      entities: [
        { name: "Ada", entityType: "person", observations: ["writes code", "writes code", "日本語 🎉"] },
        { name: "Bob", entityType: "person", observations: [] },
      ],
    },
  ],
  [
    "create_entities",
    {
      entities: [
        { name: "Ada", entityType: "robot", observations: ["dup"] },
        { name: "Cy", entityType: "cat", observations: ["purrs"], extra: "stripped" },
      ],
    },
  ],
  [
    "create_relations",
    {
      relations: [
        { from: "Ada", to: "Bob", relationType: "knows" },
        { from: "Ada", to: "Nobody", relationType: "waves at" },
      ],
    },
  ],
  ["add_observations", { observations: [{ entityName: "Bob", contents: ["likes tea", "likes tea"] }] }],
  ["add_observations", { observations: [{ entityName: "Zed", contents: ["x"] }] }],
  ["search_nodes", { query: "TEA" }],
  ["search_nodes", { query: "person", limit: 1, offset: 1 }],
  ["open_nodes", { names: ["Ada", "Missing", "Cy"] }],
  ["read_graph", { limit: 2 }],
  ["memory_stats", {}],
  ["entity_details", { name: "Ada" }],
  ["entity_details", { name: "Missing" }],
  ["node_relations", { name: "Ada", direction: "outgoing" }],
  ["node_relations", { name: "Bob" }],
  ["recall", { query: "Who likes tea?" }],
  ["recall", { query: "writes", limit: 1, entityTypes: ["PERSON"] }],
  ["recall", { query: "the" }],
  ["rename_entity", { oldName: "Cy", newName: "Bob" }],
  ["rename_entity", { oldName: "Cy", newName: "Cyra" }],
  ["merge_entities", { sources: ["Cyra"], target: "Bob" }],
  ["delete_observations", { deletions: [{ entityName: "Bob", observations: ["likes tea", "never there"] }] }],
  ["delete_relations", { relations: [{ from: "Ada", to: "Nobody", relationType: "waves at" }] }],
  ["create_entities", { entities: [{ name: "n".repeat(5000), entityType: "t", observations: [] }] }],
  ["add_observations", { observations: [{ entityName: "Ada", contents: ["y".repeat(9 * 1024 * 1024)] }] }],
  ["delete_entities", { entityNames: ["Ada", "Ghost"] }],
  ["read_graph", {}],
];

describe("a call answered on the database's thread is the SDK server's answer", () => {
  test("every tool, with errors, limits, paging and stripped extra keys: the same bytes", async () => {
    const sdkStore = freshStore();
    const threadStore = freshStore();
    const sdk = await sdkServer(sdkStore);
    const runner = createCallRunner(() => threadStore as unknown as Graph);
    let id = 0;
    for (const [name, args] of CALLS) {
      const request = { method: "tools/call", params: args === undefined ? { name } : { name, arguments: args }, jsonrpc: "2.0", id: ++id };
      expect(isPlainToolCall(request)).toBe(true);
      const expected = normalise(await sdk(request), sdkStore);
      const answer = await runner(new TextEncoder().encode(JSON.stringify(request)), choice);
      expect(answer).toBeDefined();
      expect(normalise(new TextDecoder().decode(answer!.body), threadStore)).toBe(expected);
      expect(answer!.changed).toBe(/^(create|add|delete|rename|merge)_/.test(name) && !expected.includes('"isError":true'));
    }
    sdkStore.close();
    threadStore.close();
  }, 60_000);

  test("arguments that fail their schema are handed back for the SDK to word; odd requests never reach the thread", async () => {
    const store = freshStore();
    const runner = createCallRunner(() => store as unknown as Graph);
    const call = (args: unknown) =>
      runner(
        new TextEncoder().encode(JSON.stringify({ method: "tools/call", params: { name: "create_entities", arguments: args }, jsonrpc: "2.0", id: 1 })),
        choice,
      );
    expect(await call({ entities: "nope" })).toBeUndefined();
    expect(await call({})).toBeUndefined();
    expect(store.readGraph()).toEqual({ entities: [], relations: [] });

    const plain = (params: unknown) => isPlainToolCall({ method: "tools/call", params });
    expect(plain({ name: "read_graph" })).toBe(true);
    expect(plain({ name: "no_such_tool" })).toBe(false);
    expect(plain({ name: "read_graph", arguments: [] })).toBe(false);
    expect(plain({ name: "read_graph", task: { ttl: 1000 } })).toBe(false);
    expect(plain({ name: "read_graph", _meta: { progressToken: 1 } })).toBe(false);
    expect(plain({ name: "read_graph", _meta: { "io.modelcontextprotocol/related-task": { taskId: "t" } } })).toBe(false);
    expect(plain({ name: "read_graph", _meta: "x" })).toBe(false);
    expect(plain(undefined)).toBe(false);
    expect(isPlainToolCall({ method: "tools/list", params: { name: "read_graph" } })).toBe(false);
    store.close();
  }, 30_000);
});
