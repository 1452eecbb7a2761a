// SharedChild with a real child process (tests/fixtures/asking-server.ts) and in-process sessions: the owner of a
// server→client request is never guessed. Sessions whose requests are in flight together take turns once the server
// is known to ask; a request whose session is not certain waits until it is.
import { describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import type { JsonRpcId, JsonRpcMessage } from "../../../src/lib/jsonrpc/messages.ts";
import { SharedChild } from "../../../src/host/router.ts";
import type { Client, HostedTarget } from "../../../src/host/types.ts";

const ASKING = join(import.meta.dir, "../../fixtures/asking-server.ts");
const log = createConsola({ level: -999 });

function target(): HostedTarget {
  return {
    name: "asking",
    kind: "hosted",
    command: process.execPath,
    args: [ASKING],
    env: {},
    share: "project",
    idleMinutes: 0,
    startTimeoutSeconds: 30,
  } as unknown as HostedTarget;
}

/** A session that answers every sampling request with its own name, and collects its answers by id. */
class FakeSession implements Client {
  constructor(
    readonly id: string,
    readonly project = "/p",
    readonly capabilities: Record<string, unknown> = { sampling: {} },
  ) {}
  initialized = true;
  readonly answers = new Map<JsonRpcId, JsonRpcMessage>();
  asked = 0;
  child!: SharedChild;
  send(message: JsonRpcMessage): void {
    if (message.method === "sampling/createMessage" && message.id !== undefined) {
      this.asked++;
      // The client answers a moment later, as a real one would; an SDK client without sampling says Method not found.
      const answer: JsonRpcMessage = this.capabilities.sampling
        ? { jsonrpc: "2.0", id: message.id!, result: { role: "assistant", model: this.id, content: { type: "text", text: `answered by ${this.id}` } } }
        : { jsonrpc: "2.0", id: message.id!, error: { code: -32601, message: "Method not found" } };
      setTimeout(() => this.child.fromClient(this, answer), 1);
      return;
    }
    if (message.id !== undefined && message.method === undefined) this.answers.set(message.id!, message);
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(5);
  }
}

const call = (id: number, tag: string): JsonRpcMessage => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "ask", arguments: { tag } } });

describe("SharedChild: server→client requests", () => {
  test("a known asker: 3 sessions × 400 concurrent calls, every question reaches the session whose call asked it", async () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { sampling: {} }, clientInfo: { name: "t", version: "1" } };
    const child = new SharedChild(target(), tmpdir(), { initialize: init }, log, { stderr: () => {}, idle: () => {}, sendsRequests: () => true });
    const sessions = ["A", "B", "C"].map((name) => new FakeSession(name));
    try {
      for (const s of sessions) {
        s.child = child;
        await child.attach(s);
      }
      const perSession = 400;
      for (let i = 1; i <= perSession; i++) for (const s of sessions) child.fromClient(s, call(i, s.id));
      await waitFor(() => sessions.every((s) => s.answers.size === perSession), 60_000);
      for (const s of sessions) {
        expect(s.asked).toBe(perSession);
        for (const answer of s.answers.values()) expect(JSON.stringify(answer)).toContain(`answered by ${s.id}`);
      }
      expect(child.status().takesTurns).toBe(true);
    } finally {
      child.kill();
    }
  }, 90_000);

  test("sessions that declared sampling take turns from the start: no question ever finds two sessions waiting", async () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { sampling: {} }, clientInfo: { name: "t", version: "1" } };
    const child = new SharedChild(target(), tmpdir(), { initialize: init }, log, { stderr: () => {}, idle: () => {}, sendsRequests: () => false });
    const [a, b] = [new FakeSession("A"), new FakeSession("B")];
    try {
      for (const s of [a, b]) {
        s.child = child;
        await child.attach(s);
      }
      expect(child.status().takesTurns).toBe(true);
      for (let i = 1; i <= 50; i++) {
        child.fromClient(a, call(i, "A"));
        child.fromClient(b, call(i, "B"));
      }
      await waitFor(() => a.answers.size === 50 && b.answers.size === 50, 30_000);
      for (const answer of a.answers.values()) expect(JSON.stringify(answer)).toContain("answered by A");
      for (const answer of b.answers.values()) expect(JSON.stringify(answer)).toContain("answered by B");
    } finally {
      child.kill();
    }
  }, 60_000);

  test("sessions without sampling or elicitation do not take turns", async () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { roots: {} }, clientInfo: { name: "t", version: "1" } };
    const child = new SharedChild(target(), tmpdir(), { initialize: init }, log, { stderr: () => {}, idle: () => {} });
    try {
      expect(child.status().takesTurns).toBe(false);
    } finally {
      child.kill();
    }
  }, 10_000);

  test("a question that comes while two sessions wait is held until only one does, then goes to it (a server that asks without sampling declared is answered by its one certain client)", async () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { sampling: {} }, clientInfo: { name: "t", version: "1" } };
    const child = new SharedChild(target(), tmpdir(), { initialize: init }, log, { stderr: () => {}, idle: () => {}, sendsRequests: () => false });
    const [a, b] = [new FakeSession("A"), new FakeSession("B")];
    try {
      for (const s of [a, b]) {
        s.child = child;
        await child.attach(s);
      }
      child.fromClient(b, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: { ms: 300 } } });
      child.fromClient(a, call(1, "A"));
      await waitFor(() => a.answers.size === 1 && b.answers.size === 1, 20_000);
      expect(JSON.stringify(a.answers.get(1))).toContain("answered by A");
      expect(b.asked).toBe(0);
    } finally {
      child.kill();
    }
  }, 60_000);

  test("a client without sampling is asked as directly, when it is certain, and answers Method not found itself", async () => {
    const init = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } };
    const child = new SharedChild(target(), tmpdir(), { initialize: init }, log, { stderr: () => {}, idle: () => {} });
    const a = new FakeSession("A", "/p", {});
    try {
      a.child = child;
      await child.attach(a);
      child.fromClient(a, call(1, "A"));
      await waitFor(() => a.answers.size === 1, 20_000);
      expect(JSON.stringify(a.answers.get(1))).toContain("Method not found");
      expect(a.asked).toBe(1);
    } finally {
      child.kill();
    }
  }, 60_000);
});
