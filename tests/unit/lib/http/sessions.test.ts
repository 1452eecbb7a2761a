import { describe, expect, test } from "bun:test";
import { onResponseDone, queueBody, SessionTable, sessionIdleMs } from "../../../../src/lib/http/sessions.ts";

class Fake {
  closed: string | undefined;
  close(reason: string) {
    this.closed = reason;
  }
}

describe("session table", () => {
  test("a session with no stream and no request for the idle time is closed; an open stream or request keeps it", () => {
    let now = 0;
    const table = new SessionTable<Fake>(1_000, () => now);
    const idle = new Fake();
    const streaming = new Fake();
    const working = new Fake();
    table.add("idle", idle);
    table.add("streaming", streaming);
    table.add("working", working);
    const endStream = table.streamOpened("streaming");
    const endRequest = table.requestStarted("working");
    now = 999;
    expect(table.sweep()).toEqual([]);
    now = 1_000;
    expect(table.sweep()).toEqual(["idle"]);
    expect(idle.closed).toContain("no stream and no request");
    now = 5_000;
    expect(table.sweep()).toEqual([]);
    endStream();
    endStream(); // twice is harmless
    endRequest();
    now = 5_999;
    expect(table.sweep()).toEqual([]);
    now = 6_000;
    expect(table.sweep().sort()).toEqual(["streaming", "working"]);
    expect(table.size).toBe(0);
  }, 5_000);

  test("use keeps a session alive; delete closes it once", () => {
    let now = 0;
    const table = new SessionTable<Fake>(1_000, () => now);
    const s = new Fake();
    table.add("s", s);
    now = 900;
    expect(table.get("s")).toBe(s);
    now = 1_800;
    expect(table.sweep()).toEqual([]);
    expect(table.delete("s", "bye")).toBe(true);
    expect(table.delete("s", "again")).toBe(false);
    expect(s.closed).toBe("bye");
  }, 5_000);

  test("MSM_SESSION_IDLE_MS overrides the idle time; nonsense is ignored", () => {
    expect(sessionIdleMs({ MSM_SESSION_IDLE_MS: "250" })).toBe(250);
    expect(sessionIdleMs({ MSM_SESSION_IDLE_MS: "soon" })).toBe(10 * 60_000);
    expect(sessionIdleMs({})).toBe(10 * 60_000);
  }, 5_000);
});

describe("queueBody", () => {
  test("counts what the client has not taken yet, and ends once", async () => {
    let queued = 0;
    let ends = 0;
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(10));
        c.enqueue(new Uint8Array(20));
        c.close();
      },
    });
    const { response } = queueBody(new Response(source), { queued: (d) => (queued += d), end: () => ends++ });
    await Bun.sleep(10);
    expect(queued).toBe(30);
    const reader = response.body!.getReader();
    expect((await reader.read()).value!.byteLength).toBe(10);
    expect(queued).toBe(20);
    expect((await reader.read()).value!.byteLength).toBe(20);
    expect((await reader.read()).done).toBe(true);
    expect(queued).toBe(0);
    expect(ends).toBe(1);
  }, 5_000);

  test("abort drops the queue and ends the stream (ended, not errored: Bun prints an errored body as a crash)", async () => {
    let queued = 0;
    let ends = 0;
    const source = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(100)) });
    const { response, abort } = queueBody(new Response(source), { queued: (d) => (queued += d), end: () => ends++ });
    await Bun.sleep(10);
    expect(queued).toBe(100);
    abort("cut off");
    expect(queued).toBe(0);
    expect(ends).toBe(1);
    expect((await response.body!.getReader().read()).done).toBe(true);
  }, 5_000);
});

describe("onResponseDone", () => {
  test("fires when the body ends, or is cancelled by a client that went away", async () => {
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
