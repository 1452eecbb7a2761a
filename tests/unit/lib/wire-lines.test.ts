// The line wire's byte handling (lib/wire/lines.ts, lib/jsonrpc/lines.ts answerIdAtEnds): lines split wherever the
// chunks fall, a large line kept as the pieces it came in, an id rewritten in place, a socket that takes part of a
// write.
import { describe, expect, test } from "bun:test";
import { answerIdAtEnds } from "../../../src/lib/jsonrpc/lines.ts";
import { headText, joinLine, LineSplitter, Outbox, replaceBytes, tailText, type LinePieces } from "../../../src/lib/wire/lines.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (line: LinePieces) => decoder.decode(joinLine(line));

function split(chunks: (string | Uint8Array)[], max?: number) {
  const lines: string[] = [];
  const dropped: { head: string; tail: string; bytes: number }[] = [];
  const splitter = new LineSplitter(
    {
      line: (line) => lines.push(text(line)),
      tooLarge: (head, tail, bytes) => dropped.push({ head: decoder.decode(head), tail: decoder.decode(tail), bytes }),
    },
    max,
  );
  for (const chunk of chunks) splitter.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
  return { lines, dropped };
}

describe("LineSplitter", () => {
  test("lines come out whole whatever the chunks, without their CRLF; empty lines are skipped", () => {
    const input = '{"a":1}\r\n\n{"b":"é"}\n{"c":3}\n';
    const bytes = encoder.encode(input);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { lines } = split([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(lines).toEqual(['{"a":1}', '{"b":"é"}', '{"c":3}']);
    }
    // One byte at a time: a multi-byte character split across chunks is joined again.
    expect(split([...bytes].map((b) => new Uint8Array([b]))).lines).toEqual(['{"a":1}', '{"b":"é"}', '{"c":3}']);
  }, 5_000);

  test("a line past the limit is dropped as it streams: only its ends are kept, and the next line is whole", () => {
    const big = `{"jsonrpc":"2.0","id":9,"result":"${"x".repeat(300_000)}"}`;
    const { lines, dropped } = split([big.slice(0, 100_000), big.slice(100_000), '\n{"ok":1}\n'], 200_000);
    expect(lines).toEqual(['{"ok":1}']);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.bytes).toBe(big.length);
    expect(dropped[0]!.head.startsWith('{"jsonrpc":"2.0","id":9,')).toBe(true);
    expect(dropped[0]!.tail.endsWith('x"}')).toBe(true);
  }, 5_000);

  test("a large line stays in the pieces it arrived in (nothing joined until asked)", () => {
    const pieces: LinePieces[] = [];
    const splitter = new LineSplitter({ line: (line) => pieces.push(line) });
    for (let i = 0; i < 10; i++) splitter.push(encoder.encode("y".repeat(1000)));
    splitter.push(encoder.encode("z\n"));
    expect(pieces[0]!.parts.length).toBe(11);
    expect(pieces[0]!.bytes).toBe(10_001);
    expect(headText(pieces[0]!, 3)).toBe("yyy");
    expect(tailText(pieces[0]!, 3)).toBe("yyz");
  }, 5_000);
});

describe("an answer's id, read from its ends and rewritten in its bytes", () => {
  const pieces = (value: string, size: number): LinePieces => {
    const bytes = encoder.encode(value);
    const parts: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
    return { parts, bytes: bytes.length };
  };

  for (const [order, value] of [
    ["the TypeScript SDK's order (id last)", `{"result":{"content":[{"type":"text","text":"${"é".repeat(5000)}"}]},"jsonrpc":"2.0","id":12}`],
    ["the Python SDK's order (id first)", `{"jsonrpc":"2.0","id":12,"result":{"text":"${"é".repeat(5000)}"}}`],
  ] as const) {
    test(`${order}: found in bytes, and replaced without touching the rest`, () => {
      for (const size of [7, 100, 4096, 1_000_000]) {
        const line = pieces(value, size);
        const span = answerIdAtEnds(headText(line, 128), tailText(line, 128), line.bytes)!;
        expect(span.id).toBe(12);
        const parts = replaceBytes(line, span.start, span.end, encoder.encode('"session-7"'));
        expect(decoder.decode(Buffer.concat(parts))).toBe(value.replace('"id":12', '"id":"session-7"'));
      }
    }, 10_000);
  }

  test("anything it cannot be sure of is left to a full parse", () => {
    for (const value of ['{"result":{"id":5}}', '{"result":{"a":1,"id":5}}', '{"method":"x","id":3}', '{"result":{},"jsonrpc":"2.0","id":"s"}', "not json"]) {
      const line = pieces(value, 4);
      expect(answerIdAtEnds(headText(line, 128), tailText(line, 128), line.bytes)).toBeUndefined();
    }
  }, 5_000);
});

describe("Outbox", () => {
  /** A socket that takes at most `room` bytes until drained. */
  function socket(room: number) {
    const taken: Uint8Array[] = [];
    let left = room;
    let closed = false;
    return {
      taken,
      close: () => void (closed = true),
      refill: (n: number) => void (left = n),
      write(data: string | Uint8Array): number {
        if (closed) return -1;
        const bytes = typeof data === "string" ? encoder.encode(data) : data;
        const n = Math.min(left, bytes.length);
        left -= n;
        taken.push(bytes.slice(0, n));
        return n;
      },
    };
  }

  test("what the socket cannot take waits, in order, and goes on drain; queued says how much", () => {
    const s = socket(10);
    const sizes: number[] = [];
    const outbox = new Outbox(s, (queued) => sizes.push(queued));
    expect(outbox.line("é".repeat(8))).toBe(true);
    outbox.bytes([encoder.encode("abc"), encoder.encode("def")]);
    expect(outbox.line("last")).toBe(true);
    expect(outbox.queued).toBe(17 - 10 + 7 + 5);
    let drained = false;
    outbox.whenDrained(() => (drained = true));
    s.refill(1000);
    outbox.drain();
    expect(outbox.queued).toBe(0);
    expect(drained).toBe(true);
    expect(decoder.decode(Buffer.concat(s.taken))).toBe(`${"é".repeat(8)}\nabcdef\nlast\n`);
    expect(sizes.at(-1)).toBe(0);
  }, 5_000);

  test("a closed socket refuses every later line", () => {
    const s = socket(1000);
    const outbox = new Outbox(s);
    expect(outbox.line("a")).toBe(true);
    s.close();
    expect(outbox.line("b")).toBe(false);
    expect(outbox.bytes([encoder.encode("c")])).toBe(false);
  }, 5_000);
});
