import { isId, type JsonRpcId } from "./messages.ts";

/**
 * The largest editor message the proxy takes. msm promises 16 MiB; past this bound a line is dropped as it streams
 * in rather than buffered, so a runaway client (a 2.2 GB line was seen) costs a few KiB instead of hanging the proxy.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Bytes kept from each end of a dropped or undecodable line: enough to find its id without parsing it all. */
const PEEK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** One stdin line: its text, or why it cannot be read (with its id when that could be found cheaply). */
export type Line = { text: string } | { problem: "too-large" | "invalid-utf8"; bytes: number; id: JsonRpcId | null };

/**
 * Splits a byte stream into lines. Bytes are kept until a newline arrives (one join per message, not one string
 * concatenation per chunk), each line is decoded whole and strictly: invalid UTF-8 is reported, never replaced with
 * U+FFFD and passed on as if the editor had sent it. `lossy` decodes as an SDK client reads a server's stdout
 * (invalid bytes become U+FFFD), so what a server says reaches the session as it would reach its client directly.
 */
export async function* readLines(
  input: AsyncIterable<Uint8Array | string>,
  maxBytes = MAX_MESSAGE_BYTES,
  options: { lossy?: boolean } = {},
): AsyncGenerator<Line> {
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  // Once a line is over the limit only its first and last bytes are kept.
  let head: Uint8Array | undefined;
  let tail: Uint8Array = new Uint8Array(0);

  const take = (piece: Uint8Array) => {
    if (head === undefined && size + piece.length <= maxBytes) {
      parts.push(piece);
    } else {
      if (head === undefined) {
        head = firstBytes([...parts, piece]);
        parts = [];
      }
      tail = lastBytes(tail, piece);
    }
    size += piece.length;
  };
  const finish = (): Line | undefined => {
    const line = head !== undefined ? tooLarge(head, tail, size) : options.lossy ? { text: lenient(stripCr(concat(parts))) } : decodeLine(concat(parts));
    parts = [];
    size = 0;
    head = undefined;
    tail = new Uint8Array(0);
    return line;
  };

  for await (const chunk of input) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(NEWLINE, start);
      take(bytes.subarray(start, nl < 0 ? bytes.length : nl));
      if (nl < 0) break;
      const line = finish();
      if (line) yield line;
      start = nl + 1;
    }
  }
  if (size > 0) {
    const line = finish();
    if (line && !("text" in line && line.text.trim() === "")) yield line;
  }
}

function tooLarge(head: Uint8Array, tail: Uint8Array, bytes: number): Line {
  return { problem: "too-large", bytes, id: recoverId(lenient(head), lenient(stripCr(tail))) };
}

function decodeLine(bytes: Uint8Array): Line | undefined {
  const body = stripCr(bytes);
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(body) };
  } catch {
    return { problem: "invalid-utf8", bytes: body.length, id: recoverId(lenient(body.subarray(0, PEEK_BYTES)), lenient(body.subarray(-PEEK_BYTES))) };
  }
}

const stripCr = (bytes: Uint8Array) => (bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes);
const lenient = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}

function firstBytes(parts: Uint8Array[]): Uint8Array {
  const kept: Uint8Array[] = [];
  let size = 0;
  for (const part of parts) {
    if (size >= PEEK_BYTES) break;
    kept.push(part.subarray(0, PEEK_BYTES - size));
    size += kept[kept.length - 1]!.length;
  }
  return Buffer.concat(kept);
}

function lastBytes(previous: Uint8Array, piece: Uint8Array): Uint8Array {
  if (piece.length >= PEEK_BYTES) return piece.slice(piece.length - PEEK_BYTES);
  const keep = Math.min(previous.length, PEEK_BYTES - piece.length);
  return concat([previous.subarray(previous.length - keep), piece]).slice();
}

/**
 * The id of a message that cannot be parsed whole, so the editor's request gets its error instead of hanging:
 * a top-level "id" among the first keys (`{"jsonrpc":"2.0","id":7,…`), or as the last key (the TypeScript SDK
 * writes `{…,"jsonrpc":"2.0","id":7}`). null when neither is certain; a wrong id would answer another request.
 */
export function recoverId(head: string, tail: string): JsonRpcId | null {
  const first = idAmongFirstKeys(head);
  if (first !== undefined) return first;
  const last = /[{,]\s*"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")\s*\}\s*$/.exec(tail);
  if (!last) return null;
  try {
    const id = JSON.parse(last[1]!);
    return isId(id) ? id : null;
  } catch {
    return null;
  }
}

/** Walks the top-level keys of a JSON object prefix, skipping values, until "id" or the prefix runs out. */
function idAmongFirstKeys(text: string): JsonRpcId | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== "{") return undefined;
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const keyEnd = skipValue(text, i);
    if (keyEnd < 0) return undefined;
    const key = text.slice(i, keyEnd);
    i = skipSpace(text, keyEnd);
    if (text[i] !== ":") return undefined;
    const start = skipSpace(text, i + 1);
    const end = skipValue(text, start);
    if (end < 0) return undefined;
    if (key === '"id"') {
      try {
        const id = JSON.parse(text.slice(start, end));
        return isId(id) ? id : undefined;
      } catch {
        return undefined;
      }
    }
    i = skipSpace(text, end);
    if (text[i] !== ",") return undefined;
    i = skipSpace(text, i + 1);
  }
  return undefined;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  return i;
}

/** End index (exclusive) of the JSON value starting at `i`, or -1 when the text ends first. */
function skipValue(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') {
      for (j++; j < text.length && text[j] !== '"'; j++) if (text[j] === "\\") j++;
      if (j >= text.length) return -1;
      if (depth === 0) return j + 1;
    } else if (c === "{" || c === "[") {
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return j + 1;
      if (depth < 0) return j;
    } else if (depth === 0 && (c === "," || c === " " || c === "\t" || c === "\n" || c === "\r")) {
      return j;
    }
  }
  return -1;
}

/**
 * Where the id of a server's answer sits in its text, found without parsing the rest: `{"result":…,"id":7}` (the
 * TypeScript SDK's order) or `{"jsonrpc":"2.0","id":7,"result":…}` (the Python SDK's). Only a whole-number id, and only
 * a top-level one: at the end it is the last member before the closing brace; at the start, a member before the
 * result. undefined for anything else (the caller parses the text whole). Lets a host pass a large answer on with only
 * its id rewritten, instead of parsing and writing tens of megabytes on the thread every session shares.
 */
export function answerIdSpan(text: string): { id: number; start: number; end: number } | undefined {
  const head = /^\s*\{\s*"(result|error|jsonrpc)"\s*:/.exec(text);
  if (!head) return undefined;
  if (head[1] === "jsonrpc") {
    const first = /^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(\d{1,15})\s*,\s*"(?:result|error)"\s*:/.exec(text.slice(0, 128));
    if (!first) return undefined;
    const start = first[0].indexOf(first[1]!, first[0].indexOf('"id"') + 4);
    return { id: Number(first[1]), start, end: start + first[1]!.length };
  }
  const tailFrom = Math.max(0, text.length - 128);
  const last = /,\s*"id"\s*:\s*(\d{1,15})\s*\}\s*$/.exec(text.slice(tailFrom));
  if (!last) return undefined;
  const start = tailFrom + last.index + last[0].lastIndexOf(last[1]!);
  return { id: Number(last[1]), start, end: start + last[1]!.length };
}

/**
 * Where the id of an answer too large to be worth parsing sits, found from its first and last characters only (`head`
 * and `tail`, at least 128 each; the line is `bytes` long), by the same rules as answerIdSpan. The span is in bytes:
 * everything between the id and the end it was found at is JSON's own ASCII. undefined when it is not certain.
 */
export function answerIdAtEnds(head: string, tail: string, bytes: number): { id: number; start: number; end: number } | undefined {
  const start = /^[ \t\r\n]*\{[ \t\r\n]*"(result|error|jsonrpc)"[ \t\r\n]*:/.exec(head);
  if (!start) return undefined;
  if (start[1] === "jsonrpc") {
    const first =
      /^[ \t\r\n]*\{[ \t\r\n]*"jsonrpc"[ \t\r\n]*:[ \t\r\n]*"2\.0"[ \t\r\n]*,[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*(\d{1,15})[ \t\r\n]*,[ \t\r\n]*"(?:result|error)"[ \t\r\n]*:/.exec(
        head.slice(0, 128),
      );
    if (!first) return undefined;
    const at = first[0].indexOf(first[1]!, first[0].indexOf('"id"') + 4);
    return { id: Number(first[1]), start: at, end: at + first[1]!.length };
  }
  const window = tail.slice(-128);
  const last = /,[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*(\d{1,15})[ \t\r\n]*\}[ \t\r\n]*$/.exec(window);
  if (!last) return undefined;
  const digits = last.index + last[0].lastIndexOf(last[1]!);
  const fromEnd = window.length - digits;
  return { id: Number(last[1]), start: bytes - fromEnd, end: bytes - fromEnd + last[1]!.length };
}
