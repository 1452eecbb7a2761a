import { describe, expect, test } from "bun:test";
import { Mux, Subscriptions } from "../../../src/host/mux.ts";

const A = { name: "A" };
const B = { name: "B" };
type S = typeof A;

const call = (id: string | number, extra: object = {}) => ({ jsonrpc: "2.0" as const, id, method: "tools/call", params: { name: "x", ...extra } });

describe("id and token mux", () => {
  test("the same ids from two sessions reach the child as different ids and come back with their own type", () => {
    const mux = new Mux<S>();
    const a1 = mux.request(A, call(1));
    const b1 = mux.request(B, call(1));
    const aS = mux.request(A, call("1"));
    expect(new Set([a1.id, b1.id, aS.id]).size).toBe(3);
    // Answered out of order.
    const back = [aS, b1, a1].map((m) => mux.response({ jsonrpc: "2.0", id: m.id, result: { ok: m.id } })!);
    expect(back.map((r) => [r.entry.session, r.message.id])).toEqual([
      [A, "1"],
      [B, 1],
      [A, 1],
    ]);
    expect(mux.response({ jsonrpc: "2.0", id: a1.id, result: {} })).toBeUndefined();
    expect(mux.size).toBe(0);
  }, 5_000);

  test("progress tokens are remapped, delivered to their owner only, and an unknown token is dropped", () => {
    const mux = new Mux<S>();
    const a = mux.request(A, call(7, { _meta: { progressToken: 7 } }));
    const b = mux.request(B, call(7, { _meta: { progressToken: 7 } }));
    const tokenA = (a.params as { _meta: { progressToken: number } })._meta.progressToken;
    const tokenB = (b.params as { _meta: { progressToken: number } })._meta.progressToken;
    expect(tokenA).not.toBe(tokenB);
    const progress = (token: unknown) => ({ jsonrpc: "2.0" as const, method: "notifications/progress", params: { progressToken: token, progress: 1 } });
    const toA = mux.progress(progress(tokenA))!;
    expect(toA.session).toBe(A);
    expect(toA.requestId).toBe(7);
    expect((toA.message.params as { progressToken: unknown }).progressToken).toBe(7);
    expect(mux.progress(progress(tokenB))!.session).toBe(B);
    expect(mux.progress(progress(999))).toBeUndefined();
    // Once answered, the token is no one's: late progress is dropped, not broadcast.
    mux.response({ jsonrpc: "2.0", id: a.id, result: {} });
    expect(mux.progress(progress(tokenA))).toBeUndefined();
  }, 5_000);

  test("cancellation names the child's id; a session cannot cancel another's request", () => {
    const mux = new Mux<S>();
    const a = mux.request(A, call(3));
    mux.request(B, call(3));
    expect(mux.cancelled(A, 3)).toBe(a.id as number);
    expect(mux.cancelled(A, "3")).toBeUndefined();
    expect(mux.cancelled({ name: "C" }, 3)).toBeUndefined();
  }, 5_000);

  test("it tells which sessions wait on the child, and answers to server→client requests go back under the child's id", () => {
    const mux = new Mux<S>();
    const a = mux.request(A, call(1));
    mux.request(B, call(1));
    mux.request(A, call(2));
    expect([...mux.sessionsInFlight()]).toEqual([A, B]);
    expect(mux.latestOf(A)).toBe(2);
    mux.response({ jsonrpc: "2.0", id: a.id, result: {} });
    expect(mux.latestOf(A)).toBe(2);
    const out = mux.outgoingRequest(A, { jsonrpc: "2.0", id: "child-9", method: "sampling/createMessage" });
    expect(mux.outgoingAnswer(B, { jsonrpc: "2.0", id: out.id, result: {} })).toBeUndefined();
    expect(mux.outgoingAnswer(A, { jsonrpc: "2.0", id: out.id, result: {} })!.message.id).toBe("child-9");
    expect(mux.outgoingAnswer(A, { jsonrpc: "2.0", id: out.id, result: {} })).toBeUndefined();
  }, 5_000);

  test("a session leaving hands back what to cancel at the child and which child requests msm must answer", () => {
    const mux = new Mux<S>();
    const a = mux.request(A, call(1));
    mux.request(B, call(1));
    mux.outgoingRequest(A, { jsonrpc: "2.0", id: 5, method: "elicitation/create" });
    expect(mux.dropSession(A)).toEqual({ cancel: [a.id as number], unanswered: [{ childId: 5, method: "elicitation/create" }] });
    expect(mux.busy(A)).toBe(false);
    expect(mux.busy(B)).toBe(true);
  }, 5_000);

  test("a child's death fails every request it held, msm's own included", () => {
    const mux = new Mux<S>();
    let internal: unknown;
    mux.request(A, call(1));
    mux.request(undefined, { jsonrpc: "2.0", id: 0, method: "initialize" }, (answer) => (internal = answer));
    const failed = mux.failAll();
    expect(failed.map((f) => f.session)).toEqual([A, undefined]);
    expect(typeof failed[1]!.resolve).toBe("function");
    expect(internal).toBeUndefined();
    expect(mux.size).toBe(0);
  }, 5_000);
});

describe("subscriptions", () => {
  test("are reference-counted: the child hears the first subscribe and the last unsubscribe", () => {
    const subs = new Subscriptions<S>();
    expect(subs.add(A, "u")).toBe(true);
    expect(subs.add(B, "u")).toBe(false);
    expect(subs.add(A, "u")).toBe(false);
    expect(subs.subscribers("u")).toEqual([A, B]);
    expect(subs.remove(A, "u")).toBe(false);
    expect(subs.remove(A, "u")).toBe(false);
    expect(subs.subscribers("u")).toEqual([B]);
    expect(subs.dropSession(B)).toEqual(["u"]);
    expect(subs.uris()).toEqual([]);
  }, 5_000);
});
