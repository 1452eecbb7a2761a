/**
 * A small JSONC reader that keeps source offsets, and the few surgical edits `msm install` needs: set one member of
 * one object, restore it, remove it. Everything outside the edited span is left byte for byte (comments, key order,
 * indentation, trailing commas), because these files belong to the editor and the user, not to msm.
 */
import { FormatError, type Format, type Undo } from "./format.ts";

export type Node =
  | { kind: "object"; start: number; end: number; members: Member[] }
  | { kind: "array"; start: number; end: number; items: Node[] }
  | { kind: "scalar"; start: number; end: number; value: unknown };

export interface Member {
  key: string;
  keyStart: number;
  value: Node;
}

/** Parses JSONC (comments, trailing commas) into a tree with offsets. Throws FormatError with line and column. */
export function parseTree(text: string): Node {
  let i = 0;
  const fail = (what: string): never => {
    const before = text.slice(0, i);
    const line = before.split("\n").length;
    const column = i - before.lastIndexOf("\n");
    throw new FormatError(`${what} at line ${line}, column ${column}`);
  };
  const skip = () => {
    for (;;) {
      const c = text[i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\uFEFF") i++;
      else if (c === "/" && text[i + 1] === "/") {
        while (i < text.length && text[i] !== "\n") i++;
      } else if (c === "/" && text[i + 1] === "*") {
        const close = text.indexOf("*/", i + 2);
        if (close < 0) fail("unterminated comment");
        i = close + 2;
      } else return;
    }
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail("unterminated string");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("bad string");
    }
  };
  const value = (): Node => {
    skip();
    const start = i;
    const c = text[i];
    if (c === "{") {
      i++;
      const members: Member[] = [];
      for (;;) {
        skip();
        if (text[i] === "}") break;
        if (text[i] !== '"') fail("expected a key");
        const keyStart = i;
        const key = string();
        skip();
        if (text[i] !== ":") fail('expected ":"');
        i++;
        members.push({ key, keyStart, value: value() });
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail('expected "," or "}"');
      }
      i++;
      return { kind: "object", start, end: i, members };
    }
    if (c === "[") {
      i++;
      const items: Node[] = [];
      for (;;) {
        skip();
        if (text[i] === "]") break;
        items.push(value());
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== "]") fail('expected "," or "]"');
      }
      i++;
      return { kind: "array", start, end: i, items };
    }
    if (c === '"') {
      const text = string();
      return { kind: "scalar", start, end: i, value: text };
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!literal) return fail("unexpected character");
    i += literal[0].length;
    return { kind: "scalar", start, end: i, value: JSON.parse(literal[0]) };
  };
  const root = value();
  skip();
  if (i < text.length) fail("unexpected text after the document");
  return root;
}

export function toValue(node: Node): unknown {
  if (node.kind === "scalar") return node.value;
  if (node.kind === "array") return node.items.map(toValue);
  const out: Record<string, unknown> = {};
  for (const m of node.members) out[m.key] = toValue(m.value);
  return out;
}

/** The object at `path` (member names from the root), or undefined when a step is missing or not an object. */
export function objectAt(root: Node, path: readonly string[]): Extract<Node, { kind: "object" }> | undefined {
  let node: Node | undefined = root;
  for (const key of path) {
    if (node?.kind !== "object") return undefined;
    node = [...node.members].reverse().find((m) => m.key === key)?.value;
  }
  return node?.kind === "object" ? node : undefined;
}

/** JSON allows a key twice; every reader (and JSON.parse) takes the last one, so edits do too. */
function memberOf(object: Extract<Node, { kind: "object" }>, key: string): Member | undefined {
  return [...object.members].reverse().find((m) => m.key === key);
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf("\n", at - 1) + 1;
}

function indentAt(text: string, at: number): string {
  return /^[ \t]*/.exec(text.slice(lineStart(text, at)))![0];
}

/** The file's indentation step: the first indented line's leading whitespace (tab or spaces); two spaces if none. */
function indentUnit(text: string): string {
  const found = /\n([ \t]+)\S/.exec(text);
  if (!found) return "  ";
  return found[1]!.startsWith("\t") ? "\t" : found[1]!.length <= 8 ? found[1]! : "  ";
}

/** `value` as pretty JSON whose continuation lines sit at `indent`, in the file's own style. */
export function formatValue(value: unknown, indent: string, unit: string, eol = "\n"): string {
  return JSON.stringify(value, null, unit).replace(/\n/g, `${eol}${indent}`);
}

/** The file's line ending: a Windows-edited file keeps CRLF on the lines msm adds. */
const eolOf = (text: string) => (text.includes("\r\n") ? "\r\n" : "\n");

function memberIndent(text: string, object: Extract<Node, { kind: "object" }>, unit: string): string {
  const first = object.members[0];
  if (first && text.lastIndexOf("\n", first.keyStart) >= object.start) return indentAt(text, first.keyStart);
  return indentAt(text, object.start) + unit;
}

/**
 * Appends `"key": value` as the object's last member. Returns the new text and what removing it exactly needs: for
 * an empty object, the whitespace or comments that were inside the braces.
 */
function insertMember(text: string, object: ObjectNode, key: string, value: unknown): { text: string; undo: Undo } {
  const unit = indentUnit(text);
  const indent = memberIndent(text, object, unit);
  const eol = eolOf(text);
  const member = `${JSON.stringify(key)}: ${formatValue(value, indent, unit, eol)}`;
  const last = object.members.at(-1);
  if (last) {
    const end = last.value.end;
    const lineEnd = text.indexOf("\n", end) < 0 ? text.length : text.indexOf("\n", end);
    const rest = /^([ \t]*)(,?)[ \t]*(\/\/.*|\/\*.*\*\/[ \t]*)\r?$/.exec(text.slice(end, lineEnd));
    if (rest) {
      // The last member ends its line with a comment: the new member goes on the next line, the comma before it.
      const comma = rest[2] === "";
      const at = text[lineEnd - 1] === "\r" ? lineEnd - 1 : lineEnd;
      const next = text.slice(0, end) + (comma ? "," : "") + text.slice(end, at) + `${eol}${indent}${member}` + text.slice(at);
      return { text: next, undo: { line: true, comma } };
    }
    return { text: text.slice(0, end) + `,${eol}${indent}${member}` + text.slice(end), undo: {} };
  }
  const inner = text.slice(object.start + 1, object.end - 1);
  const closing = indentAt(text, object.start);
  const body = inner.trim() === "" ? `${eol}${indent}${member}${eol}${closing}` : `${eol}${indent}${member}${inner}`;
  return { text: text.slice(0, object.start + 1) + body + text.slice(object.end - 1), undo: { inner } };
}

/** Removes a member: the exact inverse of insertMember when `undo` is the one it returned. */
function removeMember(text: string, object: ObjectNode, member: Member, undo: Undo): string {
  const index = object.members.indexOf(member);
  if (object.members.length === 1) {
    const inner = typeof undo.inner === "string" ? undo.inner : "";
    return text.slice(0, object.start + 1) + inner + text.slice(object.end - 1);
  }
  if (index > 0) {
    const prevEnd = object.members[index - 1]!.value.end;
    if (!undo.line) return text.slice(0, prevEnd) + text.slice(member.value.end);
    let lineBreak = text.lastIndexOf("\n", member.keyStart);
    if (text[lineBreak - 1] === "\r") lineBreak--;
    const without = text.slice(0, lineBreak) + text.slice(member.value.end);
    return undo.comma && without[prevEnd] === "," ? without.slice(0, prevEnd) + without.slice(prevEnd + 1) : without;
  }
  return text.slice(0, member.keyStart) + text.slice(object.members[1]!.keyStart);
}

/** The last tree parsed: one edit asks about the same text several times, and ~/.claude.json can be megabytes. */
let memo: { text: string; tree: Node } | undefined;

function parseDocument(text: string): Node {
  const source = text.trim() === "" ? "{}" : text;
  if (memo?.text !== source) memo = { text: source, tree: parseTree(source) };
  return memo.tree;
}

type ObjectNode = Extract<Node, { kind: "object" }>;

/**
 * Walks `container` from the root: the deepest object that exists on the way and how many steps it took. A step
 * that exists but is not an object is an error, since writing there would destroy someone's value.
 */
function walk(root: Node, container: readonly string[], file: string): { holder: ObjectNode; depth: number } {
  if (root.kind !== "object") throw new FormatError(`${file}: the top level is not an object`);
  let holder: ObjectNode = root;
  let depth = 0;
  for (; depth < container.length; depth++) {
    const member = memberOf(holder, container[depth]!);
    if (!member) break;
    if (member.value.kind !== "object") throw new FormatError(`${file}: "${container.slice(0, depth + 1).join(".")}" is not an object`);
    holder = member.value;
  }
  return { holder, depth };
}

function containerOf(root: Node, container: readonly string[], file: string): ObjectNode | undefined {
  const { holder, depth } = walk(root, container, file);
  return depth === container.length ? holder : undefined;
}

/**
 * A JSON or JSONC config file seen as a set of named entries under `container` (one level, e.g. `mcpServers`).
 * `strict` (plain JSON files) refuses a file with comments or trailing commas rather than keep them in a file whose
 * readers would choke on them.
 */
export function jsoncFormat(strict: boolean): Format {
  const check = (text: string, file: string) => {
    if (text.trim() === "") return;
    try {
      parseDocument(text);
    } catch (error) {
      throw new FormatError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    if (!strict) return;
    try {
      JSON.parse(text);
    } catch {
      throw new FormatError(`${file} has comments or trailing commas, which its editor does not accept`);
    }
  };
  return {
    entries(text, container, file) {
      check(text, file);
      const object = containerOf(parseDocument(text), container, file);
      return object ? (toValue(object) as Record<string, unknown>) : {};
    },
    entryText(text, container, name) {
      const object = objectAt(parseDocument(text), container);
      const member = object && memberOf(object, name);
      return member && text.slice(member.value.start, member.value.end);
    },
    add(text, container, name, value, file) {
      check(text, file);
      const createdFile = text.trim() === "";
      const source = createdFile ? "{}\n" : text;
      const root = parseDocument(source);
      const { holder, depth } = walk(root, container, file);
      if (depth === container.length) return insertMember(source, holder, name, value);
      // The container (or part of its path) is missing: msm adds it, holding this entry, and notes where.
      let nested: Record<string, unknown> = { [name]: value };
      for (let k = container.length - 1; k > depth; k--) nested = { [container[k]!]: nested };
      const made = insertMember(source, holder, container[depth]!, nested);
      return { text: made.text, undo: { ...made.undo, createdAt: depth, ...(createdFile ? { createdFile: text } : {}) } };
    },
    replace(text, container, name, value) {
      const object = objectAt(parseDocument(text), container)!;
      const member = memberOf(object, name)!;
      const unit = indentUnit(text);
      const formatted = formatValue(value, indentAt(text, member.keyStart), unit, eolOf(text));
      return text.slice(0, member.value.start) + formatted + text.slice(member.value.end);
    },
    restore(text, container, name, original) {
      const object = objectAt(parseDocument(text), container)!;
      const member = memberOf(object, name)!;
      return text.slice(0, member.value.start) + original + text.slice(member.value.end);
    },
    remove(text, container, name, undo) {
      const root = parseDocument(text);
      const object = objectAt(root, container);
      const member = object && memberOf(object, name);
      if (!object || !member) return text;
      const createdAt = typeof undo.createdAt === "number" ? undo.createdAt : undefined;
      // The path was msm's doing: take it away with its last entry, if nothing else moved in meanwhile.
      const alone = (k: number) => objectAt(root, container.slice(0, k))?.members.length === 1;
      if (createdAt !== undefined && Array.from({ length: container.length - createdAt }, (_, i) => createdAt + 1 + i).every(alone)) {
        const holder = objectAt(root, container.slice(0, createdAt))!;
        const next = removeMember(text, holder, memberOf(holder, container[createdAt]!)!, undo);
        return typeof undo.createdFile === "string" && next.trim() === "{}" ? undo.createdFile : next;
      }
      return removeMember(text, object, member, undo);
    },
  };
}

/** VS Code's `mcp.json` and other JSONC files: comments and trailing commas are expected and kept. */
export const jsonc = jsoncFormat(false);
