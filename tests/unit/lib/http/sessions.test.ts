import { describe, expect, test } from "bun:test";
import { onResponseDone, SessionTable, sessionIdleMsFromEnv, SESSION_IDLE_MS } from "../../../../src/lib/http/sessions.ts";

function table(idleMs: number) {
  let now = 1_000;
  const expired: string[] = [];
  const sessions = new SessionTable<string>({ idleMs, onExpire: (id) => void expired.push(id), now: () => now });
  return { sessions, expired, advance: (ms: number) => (now += ms) };
}

describe("session table", () => {
  test("a session with no request and no stream is reaped after idleMs; one with an open stream never is", async () => {
    const { sessions, expired, advance } = table(1_000);
    sessions.add("orphan", "a");
    sessions.add("listening", "b");
    const stream = sessions.begin("listening");
    advance(999);
    expect(sessions.sweep()).toEqual([]);
    advance(1);
    expect(sessions.sweep()).toEqual(["orphan"]);
    await Bun.sleep(0);
    expect(expired).toEqual(["orphan"]);
    expect(sessions.get("orphan")).toBeUndefined();
    advance(60_000);
    expect(sessions.sweep()).toEqual([]);
    // The stream closes: its idle time starts then.
    stream();
    stream(); // ending twice counts once
    advance(999);
    expect(sessions.sweep()).toEqual([]);
    advance(1);
    expect(sessions.sweep()).toEqual(["listening"]);
    expect(sessions.size).toBe(0);
  }, 5_000);

  test("a deleted session is not expired; begin() on an unknown id is harmless", () => {
    const { sessions, expired, advance } = table(10);
    sessions.add("gone", "x");
    expect(sessions.delete("gone")).toBe(true);
    sessions.begin("nope")();
    advance(100);
    expect(sessions.sweep()).toEqual([]);
    expect(expired).toEqual([]);
  }, 5_000);

  test("MSM_SESSION_IDLE_MS overrides the 10-minute default; junk is ignored", () => {
    expect(SESSION_IDLE_MS).toBe(600_000);
    expect(sessionIdleMsFromEnv({ MSM_SESSION_IDLE_MS: "1500" })).toBe(1_500);
    expect(sessionIdleMsFromEnv({ MSM_SESSION_IDLE_MS: "soon" })).toBe(600_000);
    expect(sessionIdleMsFromEnv({})).toBe(600_000);
  }, 5_000);

  test("onResponseDone fires when the body ends, or is cancelled by a client that went away", async () => {
    let ended = 0;
    const whole = onResponseDone(new Response("hello"), () => ended++);
    expect(await whole.text()).toBe("hello");
    expect(ended).toBe(1);
    onResponseDone(new Response(null, { status: 202 }), () => ended++);
    expect(ended).toBe(2);
    const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const stream = onResponseDone(new Response(endless), () => ended++);
    await stream.body!.cancel();
    expect(ended).toBe(3);
  }, 5_000);
});
