// The profile session's routing in-process (src/proxy/profile.ts): three targets that deliberately use the same ids
// for their own requests to the editor, and an editor whose requests race each other. Every answer must reach the
// request it answers — the editor's under its own id, each target's under the id that target chose — and nothing
// may reach a target it was not for. The targets here are small in-memory MCP servers; the e2e tests
// (tests/e2e/profiles.test.ts) run the same through real daemons.
import { expect, test } from "bun:test";
import type { JsonRpcMessage } from "../../../src/lib/jsonrpc/messages.ts";
import type { Session } from "../../../src/proxy/discovery.ts";
import { openProfile } from "../../../src/proxy/profile.ts";

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };

/** A target that answers initialize and tools/list, and whose tool `ask` asks the editor (ids 1, 2, 3… per target). */
class Target implements Session {
  readonly heard: JsonRpcMessage[] = [];
  private asked = 0;
  private readonly waiting = new Map<number, JsonRpcMessage>();

  constructor(
    readonly name: string,
    private readonly write: (message: JsonRpcMessage) => void,
  ) {}

  send(message: JsonRpcMessage): void {
    this.heard.push(message);
    const reply = (result: unknown) => queueMicrotask(() => this.write({ jsonrpc: "2.0", id: message.id, result }));
    if (message.method === "initialize")
      return reply({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: this.name, version: "1" } });
    if (message.method === "tools/list") return reply({ tools: [{ name: "ask", inputSchema: { type: "object" } }] });
    if (message.method === "tools/call") {
      const id = ++this.asked;
      this.waiting.set(id, message);
      const question = (message.params as { arguments: { q: string } }).arguments.q;
      setTimeout(() => this.write({ jsonrpc: "2.0", id, method: "sampling/createMessage", params: { q: `${this.name}:${question}` } }), Math.random() * 5);
      return;
    }
    if (message.method === undefined && typeof message.id === "number") {
      // The editor's answer to one of this target's requests: the call that asked gets it.
      const call = this.waiting.get(message.id);
      if (!call) throw new Error(`${this.name} got an answer to a request it never made: ${JSON.stringify(message)}`);
      this.waiting.delete(message.id);
      const said = (message.result as { said: string }).said;
      setTimeout(() => this.write({ jsonrpc: "2.0", id: call.id, result: { content: [{ type: "text", text: said }] } }), Math.random() * 5);
    }
  }

  async close(): Promise<void> {}
}

test("300 concurrent calls over 3 targets whose own request ids collide: every answer reaches its own request", async () => {
  const targets = new Map<string, Target>();
  const toEditor: JsonRpcMessage[] = [];
  let session: Session | undefined;
  session = openProfile({
    profile: { name: "dev", targets: ["a", "b", "c"], mode: "all", separator: "__", rules: {} },
    configFile: "config.json",
    project: undefined,
    log: quiet,
    openTarget: async (name, write) => {
      const target = new Target(name, write);
      targets.set(name, target);
      return target;
    },
    write: (message) => {
      toEditor.push(message);
      // The editor answers every question at once, saying what it was asked.
      if (message.method === "sampling/createMessage")
        queueMicrotask(() => session!.send({ jsonrpc: "2.0", id: message.id!, result: { said: `answer to ${(message.params as { q: string }).q}` } }));
    },
  });
  session.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: { sampling: {} } } });
  const answers = () => new Map(toEditor.filter((m) => m.method === undefined).map((m) => [m.id, m]));
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await Bun.sleep(10);
    expect(check()).toBe(true);
  };
  await until(() => answers().has(0));
  session.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  const calls: { id: number; target: string; q: string }[] = [];
  for (let i = 1; i <= 300; i++) {
    const target = ["a", "b", "c"][i % 3]!;
    calls.push({ id: i, target, q: `question ${i}` });
    session.send({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: `${target}__ask`, arguments: { q: `question ${i}` } } });
  }
  await until(() => calls.every((c) => answers().has(c.id)));
  for (const call of calls) {
    const answer = answers().get(call.id) as { result: { content: { text: string }[] } };
    expect(answer.result.content[0]!.text).toBe(`answer to ${call.target}:${call.q}`);
  }
  // The editor saw 300 questions under 300 different ids, though each target numbered its own 1…100.
  const questions = toEditor.filter((m) => m.method === "sampling/createMessage");
  expect(new Set(questions.map((m) => m.id)).size).toBe(300);
  // Each target heard only its own calls, under the profile's ids, with its own tool name.
  for (const [name, target] of targets) {
    const heardCalls = target.heard.filter((m) => m.method === "tools/call");
    expect(heardCalls).toHaveLength(100);
    expect(heardCalls.every((m) => (m.params as { name: string }).name === "ask" && String(m.id).startsWith("msm-p"))).toBe(true);
    const askedOf = (m: JsonRpcMessage) => (m.params as { arguments: { q: string } }).arguments.q;
    expect(heardCalls.map((m) => calls.find((c) => c.q === askedOf(m))?.target)).toEqual(heardCalls.map(() => name));
  }
  await session.close({ graceMs: 0 });
});
