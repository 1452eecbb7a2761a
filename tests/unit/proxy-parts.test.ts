// The proxy's small pure parts: line splitting, SSE parsing, JSON-RPC validation, headers, the project path.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { readLines, recoverId, type Line } from "../../src/lib/jsonrpc/lines.ts";
import { readSse } from "../../src/lib/jsonrpc/sse.ts";
import { parseLine } from "../../src/lib/jsonrpc/messages.ts";
import { isUnreachable, parseHeaders, postFresh, STALE_SOCKET_MS, type Upstream } from "../../src/proxy/upstream.ts";
import { resolveProject } from "../../src/proxy/project.ts";
import { collectHeaders } from "../../src/cli/commands/proxy.ts";

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? new TextEncoder().encode(p) : p;
}

const texts = (lines: Line[]) => lines.map((l) => ("text" in l ? l.text : l));

describe("readLines", () => {
  test("splits across chunk boundaries, strips CR, keeps a last unterminated line", async () => {
    expect(texts(await collect(readLines(chunks('{"a":', '1}\n{"b"', ":2}\r\n\n", '{"c":3}'))))).toEqual(['{"a":1}', '{"b":2}', "", '{"c":3}']);
  });

  test("a multi-byte character split between chunks survives", async () => {
    const bytes = new TextEncoder().encode('"€"\n');
    expect(texts(await collect(readLines(chunks(bytes.slice(0, 2), bytes.slice(2)))))).toEqual(['"€"']);
  });

  test("invalid UTF-8 is reported (with the id when it can be found), never replaced", async () => {
    const bad = (prefix: string, suffix: string) => new Uint8Array([...new TextEncoder().encode(prefix), 0xff, 0xc3, ...new TextEncoder().encode(suffix)]);
    const lines = await collect(readLines(chunks(bad('{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":"', '"}}\n'), '{"ok":1}\n', bad('{"a":"', '"}'))));
    expect(lines).toEqual([{ problem: "invalid-utf8", bytes: 57, id: 7 }, { text: '{"ok":1}' }, { problem: "invalid-utf8", bytes: 10, id: null }]);
  });

  test("a line over the limit is discarded as it streams (its id kept), and the next line is read normally", async () => {
    const limit = 1024 * 1024;
    const body = "x".repeat(64 * 1024);
    // The SDK writes the id last; some clients write it first; neither id may come from inside params.
    const idLast = ['{"method":"tools/call","params":{"id":99,"a":"', ...Array(40).fill(body), '"},"jsonrpc":"2.0","id":"req-5"}\n'];
    const idFirst = ['{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"a":"', ...Array(40).fill(body), '"}}\n'];
    const noId = ['{"params":{"a":"', ...Array(40).fill(body), '","id":3}}\n'];
    const lines = await collect(readLines(chunks(...idLast, ...idFirst, ...noId, '{"ok":1}\n'), limit));
    expect(lines.map((l) => ("text" in l ? l.text : `${l.problem} ${l.id}`))).toEqual(["too-large req-5", "too-large 6", "too-large null", '{"ok":1}']);
  });

  test("recoverId only trusts a top-level id", () => {
    expect(recoverId('{"jsonrpc":"2.0","id":1,', "")).toBe(1);
    expect(recoverId('{"method":"x","params":{"id":2},"id":"a"', "")).toBe("a");
    expect(recoverId('{"method":"x","params":{"id":2', "")).toBeNull();
    expect(recoverId("", ',"jsonrpc":"2.0","id":3}')).toBe(3);
    expect(recoverId("", ',"id":3}}')).toBeNull();
    expect(recoverId("", '"id":null}')).toBeNull();
  });

  test("a 16 MiB line in 64 KiB chunks comes out whole", async () => {
    const line = "y".repeat(16 * 1024 * 1024);
    const parts: string[] = [];
    for (let i = 0; i < line.length; i += 65536) parts.push(line.slice(i, i + 65536));
    parts.push("\n");
    const out = texts(await collect(readLines(chunks(...parts))));
    expect(out.length).toBe(1);
    expect((out[0] as string).length).toBe(line.length);
  });
});

describe("readSse", () => {
  test("events, multi-line data, CRLF, comments, id and retry", async () => {
    const events = await collect(
      readSse(chunks(": keep-alive\n\nevent: endpoint\r\ndata: /message?sessionId=1\r\n\r\n", 'id: 7\nretry: 1500\ndata: {"a":\ndata: 1}\n', "\n")),
    );
    expect(events).toEqual([
      { event: "endpoint", data: "/message?sessionId=1", id: undefined, retry: undefined },
      { event: "message", data: '{"a":\n1}', id: "7", retry: 1500 },
    ]);
  });

  test("a field split across chunks, and a last event without its blank line", async () => {
    const events = await collect(readSse(chunks("da", "ta: x", "yz\n\ndata: tail\n")));
    expect(events.map((e) => e.data)).toEqual(["xyz", "tail"]);
  });

  test("a 16 MiB event arrives whole", async () => {
    const data = "z".repeat(16 * 1024 * 1024);
    const text = `data: ${data}\n\n`;
    const parts: string[] = [];
    for (let i = 0; i < text.length; i += 65536) parts.push(text.slice(i, i + 65536));
    const events = await collect(readSse(chunks(...parts)));
    expect(events.length).toBe(1);
    expect(events[0]!.data.length).toBe(data.length);
  });
});

describe("parseLine", () => {
  test("bad JSON → -32700 with id null", () => {
    expect(parseLine("{nope")).toEqual({
      messages: [],
      errors: [{ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the line is not valid JSON" } }],
    });
  });

  test("invalid messages → -32600, with their id when it is usable", () => {
    const codes = (line: string) => parseLine(line).errors.map((e) => [e.id, (e.error as { code: number }).code]);
    expect(codes('{"jsonrpc":"2.0","id":3}')).toEqual([[3, -32600]]);
    expect(codes('{"jsonrpc":"1.0","id":4,"method":"x"}')).toEqual([[4, -32600]]);
    expect(codes('{"jsonrpc":"2.0","id":null,"method":"x"}')).toEqual([[null, -32600]]);
    expect(codes('{"jsonrpc":"2.0","id":5,"method":"x","params":3}')).toEqual([[5, -32600]]);
    expect(codes('{"jsonrpc":"2.0","id":6,"result":1,"error":{}}')).toEqual([[6, -32600]]);
    expect(codes("42")).toEqual([[null, -32600]]);
    expect(codes("[]")).toEqual([[null, -32600]]);
  });

  test("valid requests, notifications and responses pass; a batch is split", () => {
    const line = JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: "s1", result: { roots: [] } },
      { jsonrpc: "2.0", id: null, error: { code: -32700, message: "x" } },
      { jsonrpc: "2.0" },
    ]);
    const { messages, errors } = parseLine(line);
    expect(messages.length).toBe(4);
    expect(errors.length).toBe(1);
  });
});

describe("headers and errors", () => {
  test("--header parsing (curl syntax), repeated flags collected", () => {
    expect(parseHeaders(["Authorization: Bearer a:b", "X-Thing:1"])).toEqual({ authorization: "Bearer a:b", "x-thing": "1" });
    expect(() => parseHeaders(["nocolon"])).toThrow();
    expect(collectHeaders(["--url", "u", "--header", "A: 1", "-H", "B: 2", "--header=C: 3"])).toEqual(["A: 1", "B: 2", "C: 3"]);
  });

  test("connection refused counts as unreachable, a reset mid-answer does not", () => {
    expect(isUnreachable(Object.assign(new TypeError("Unable to connect"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error("socket closed"), { code: "ECONNRESET" }))).toBe(false);
  });
});

describe("resolveProject", () => {
  const root = realpathSync(mkdtempSync(join(process.env.MSM_TEST_ROOT ?? "/tmp", "project-")));
  const repo = join(root, "repo");
  const deep = join(repo, "src", "deep");
  mkdirSync(join(repo, ".git"), { recursive: true });
  mkdirSync(deep, { recursive: true });
  const claudeOnly = join(root, "claude-only", "a");
  mkdirSync(join(root, "claude-only", ".claude"), { recursive: true });
  mkdirSync(claudeOnly, { recursive: true });
  const bare = join(root, "bare", "x");
  mkdirSync(bare, { recursive: true });

  test("--project wins; it must be absolute, and is sent canonical", () => {
    expect(resolveProject(repo, { MSM_PROJECT_DIR: "/ignored" }, deep)).toBe(repo);
    expect(resolveProject(join(deep, "..", ".."), {}, "/")).toBe(repo);
    expect(() => resolveProject("other", {}, deep)).toThrow('--project "other" is not an absolute path');
    expect(() => resolveProject(undefined, { CLAUDE_PROJECT_DIR: "rel" }, deep)).toThrow('CLAUDE_PROJECT_DIR "rel" is not an absolute path');
  });

  test("MSM_PROJECT_DIR, then CLAUDE_PROJECT_DIR", () => {
    expect(resolveProject(undefined, { MSM_PROJECT_DIR: "/m", CLAUDE_PROJECT_DIR: "/c" }, deep)).toBe("/m");
    expect(resolveProject(undefined, { CLAUDE_PROJECT_DIR: "/c" }, deep)).toBe("/c");
  });

  test("the nearest ancestor holding .git or .claude", () => {
    expect(resolveProject(undefined, {}, deep)).toBe(repo);
    expect(resolveProject(undefined, {}, claudeOnly)).toBe(join(root, "claude-only"));
  });

  test("else the working directory", () => {
    // Precondition: nothing above the temp root is a project (true for /tmp here), so the walk finds nothing.
    const above = (dir: string): boolean => existsSync(join(dir, ".git")) || existsSync(join(dir, ".claude")) || (dirname(dir) !== dir && above(dirname(dir)));
    expect(above(root)).toBe(false);
    expect(resolveProject(undefined, {}, bare)).toBe(bare);
  });
});

describe("postFresh", () => {
  const reset = () => Object.assign(new Error("ECONNRESET: The socket connection was closed unexpectedly"), { code: "ECONNRESET" });
  const foreign: Upstream = { url: "http://127.0.0.1:1/mcp", transport: "streamable-http", headers: {} };
  test("to msm's own daemon a POST never goes through fetch (the kept connections of proxy/loopback.ts carry it)", async () => {
    let calls = 0;
    const fakeFetch = (async () => {
      calls++;
      return new Response("from fetch");
    }) as unknown as typeof fetch;
    // Nothing listens on port 1: refused on the loopback path, which is safe to resend.
    const own: Upstream = { ...foreign, ownDaemon: true };
    const error = await postFresh(fakeFetch, own, own.url, { method: "POST", headers: {}, body: "{}" }).catch((e: unknown) => e);
    expect(isUnreachable(error)).toBe(true);
    expect(calls).toBe(0);
  });

  test("to a server msm started from config every POST takes a new connection, and a reset is never resent", async () => {
    const calls: RequestInit[] = [];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      calls.push(init);
      throw reset();
    }) as unknown as typeof fetch;
    const started: Upstream = { ...foreign, freshConnections: true };
    await expect(postFresh(fakeFetch, started, started.url, { method: "POST", body: "{}" })).rejects.toThrow("ECONNRESET");
    expect(calls.length).toBe(1);
    expect(calls[0]!.keepalive).toBe(false);
  });

  test("to another server, a reset right after sending (a stale pooled socket) is retried on a fresh connection", async () => {
    const calls: RequestInit[] = [];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      calls.push(init);
      if (calls.length === 1) throw reset();
      return new Response("ok");
    }) as unknown as typeof fetch;
    const response = await postFresh(fakeFetch, foreign, foreign.url, { method: "POST", body: "{}" });
    expect(await response.text()).toBe("ok");
    expect(calls.length).toBe(2);
    expect(calls[0]!.keepalive).toBeUndefined();
    expect(calls[1]!.keepalive).toBe(false);
  });

  test("a reset after the request was in flight stays an error", async () => {
    let calls = 0;
    const fakeFetch = (async () => {
      calls++;
      await Bun.sleep(STALE_SOCKET_MS + 30);
      throw reset();
    }) as unknown as typeof fetch;
    await expect(postFresh(fakeFetch, foreign, foreign.url, { method: "POST" })).rejects.toThrow("ECONNRESET");
    expect(calls).toBe(1);
  });
});
