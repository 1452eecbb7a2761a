import { describe, expect, test } from "bun:test";
import { answerIdSpan } from "../../../../src/lib/jsonrpc/lines.ts";

describe("answerIdSpan", () => {
  test("finds a top-level whole-number id at the end (TypeScript SDK) or the start (Python SDK)", () => {
    for (const text of ['{"result":{"a":1},"jsonrpc":"2.0","id":12}', '{"error":{"code":1},"jsonrpc":"2.0","id":12}  ', '{"jsonrpc":"2.0","id":12,"result":{"x":"y"}}']) {
      const span = answerIdSpan(text)!;
      expect(span.id).toBe(12);
      expect(text.slice(span.start, span.end)).toBe("12");
    }
  }, 5_000);

  test("anything it cannot be sure of is left to a full parse", () => {
    for (const text of [
      '{"result":{"id":5}}', // the only id is nested
      '{"result":{"a":1,"id":5}}',
      '{"method":"x","id":3}', // a request, not an answer
      '{"result":{},"jsonrpc":"2.0","id":"s"}', // not a number msm gave
      '{"result":"a \\",\\"id\\":5}"}', // an id inside a string
      "not json",
    ]) {
      expect(answerIdSpan(text)).toBeUndefined();
    }
  }, 5_000);
});
