/**
 * Codex's `config.toml` as a set of `[mcp_servers.NAME]` tables. Reading uses Bun's own TOML parser; edits are made
 * on the text, one table's span at a time, so every comment and every other table stays as the user wrote it.
 */
import { FormatError, type Format, type Undo } from "./format.ts";

interface Table {
  /** Dotted key path of the header, unquoted. */
  path: string[];
  /** Offset of the header line's start. */
  start: number;
  /** End of the table's last line that holds a key (comments and blank lines before the next header stay outside). */
  end: number;
}

function parse(text: string, file: string): Record<string, unknown> {
  try {
    return Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new FormatError(`${file} is not valid TOML (${(error as Error).message})`);
  }
}

/** Parses a header's key path: `[ a . "b.c" . 'd' ]` → ["a", "b.c", "d"]. */
function headerPath(line: string): string[] | undefined {
  // `[[array.of.tables]]` ends the table before it too; its path is marked so it never matches an entry.
  const match = /^\s*(\[\[?)(.*?)\]\]?\s*(?:#.*)?$/.exec(line);
  if (!match) return undefined;
  const keys: string[] = match[1] === "[[" ? ["[["] : [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  const body = match[2]!;
  re.lastIndex = 0;
  while (re.lastIndex < body.length) {
    const part = re.exec(body);
    if (!part) return undefined;
    keys.push(part[1] !== undefined ? (JSON.parse(`"${part[1]}"`) as string) : (part[2] ?? part[3]!));
    if (part[4] === "") break;
  }
  return keys;
}

/**
 * Every table header outside strings and multi-line arrays, with the span of its content. A `[` only starts a header
 * at the beginning of a line, outside a multi-line string and outside an open array or inline table.
 */
function tables(text: string): Table[] {
  const found: Table[] = [];
  let depth = 0;
  let i = 0;
  let lastKeyLineEnd = -1;
  const close = () => {
    const current = found.at(-1);
    if (current) current.end = Math.max(lastKeyLineEnd, current.end);
  };
  while (i < text.length) {
    const lineEnd = text.indexOf("\n", i) === -1 ? text.length : text.indexOf("\n", i) + 1;
    const line = text.slice(i, lineEnd);
    if (depth === 0 && /^\s*\[/.test(line)) {
      const path = headerPath(line.replace(/\r?\n$/, ""));
      if (path) {
        close();
        found.push({ path, start: i, end: lineEnd });
        lastKeyLineEnd = lineEnd;
        i = lineEnd;
        continue;
      }
    }
    // Walk the line's characters: strings (possibly multi-line), comments and bracket depth.
    let j = i;
    let content = false;
    while (j < text.length) {
      const c = text[j]!;
      if (c === "\n") {
        j++;
        break;
      }
      if (c === "#") {
        j = text.indexOf("\n", j) === -1 ? text.length : text.indexOf("\n", j);
        continue;
      }
      if (c === " " || c === "\t" || c === "\r") {
        j++;
        continue;
      }
      content = true;
      if (c === '"' || c === "'") {
        const triple = text.startsWith(c.repeat(3), j);
        const quote = triple ? c.repeat(3) : c;
        let k = j + quote.length;
        while (k < text.length && !text.startsWith(quote, k)) k += c === '"' && text[k] === "\\" ? 2 : 1;
        if (triple) while (text[k + 3] === c) k++; // `""""` closes with the quote as content
        j = Math.min(text.length, k + quote.length);
        continue;
      }
      if (c === "[" || c === "{") depth++;
      else if (c === "]" || c === "}") depth = Math.max(0, depth - 1);
      j++;
    }
    if (content) lastKeyLineEnd = j;
    i = j;
  }
  close();
  return found;
}

const samePath = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((k, i) => k === b[i]);
const startsWith = (a: readonly string[], prefix: readonly string[]) => prefix.every((k, i) => a[i] === k);

/** The span of entry NAME: its header and the sub-tables right after it (`[mcp_servers.NAME.env]`). */
function entrySpan(text: string, container: readonly string[], name: string): { start: number; end: number } | undefined {
  const all = tables(text);
  const key = [...container, name];
  const index = all.findIndex((t) => samePath(t.path, key));
  if (index < 0) return undefined;
  let end = all[index]!.end;
  for (let k = index + 1; k < all.length && startsWith(all[k]!.path, key) && all[k]!.path.length > key.length; k++) end = all[k]!.end;
  return { start: all[index]!.start, end };
}

const BARE = /^[A-Za-z0-9_-]+$/;
/** A key as TOML wants it; JSON's string escapes are all valid in a TOML basic string. */
const tomlKey = (key: string) => (BARE.test(key) ? key : JSON.stringify(key));

function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value && typeof value === "object") {
    const pairs = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
    return pairs.length ? `{ ${pairs.join(", ")} }` : "{}";
  }
  throw new FormatError(`cannot write ${JSON.stringify(value)} as TOML`);
}

/** `[container.NAME]` and one `key = value` line per field, ending with a newline. */
function block(container: readonly string[], name: string, value: Record<string, unknown>, eol = "\n"): string {
  const lines = [`[${[...container, name].map(tomlKey).join(".")}]`];
  for (const [k, v] of Object.entries(value)) if (v !== undefined) lines.push(`${tomlKey(k)} = ${tomlValue(v)}`);
  return lines.join(eol) + eol;
}

/** The file's line ending: a Windows-edited file keeps CRLF on the lines msm adds. */
const eolOf = (text: string) => (text.includes("\r\n") ? "\r\n" : "\n");

function verifyParses(text: string, file: string): string {
  parse(text, file);
  return text;
}

export const toml: Format = {
  entries(text, container, file) {
    let node: unknown = parse(text, file);
    for (const key of container) node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
    return node && typeof node === "object" ? (node as Record<string, unknown>) : {};
  },
  entryText(text, container, name) {
    const span = entrySpan(text, container, name);
    return span && text.slice(span.start, span.end);
  },
  add(text, container, name, value, file) {
    // Appended as a new table: a blank line after whatever came before, and a newline first if the file lacked one.
    const eol = eolOf(text);
    const prefix = text === "" ? "" : text.endsWith("\n") ? eol : eol + eol;
    const next = text + prefix + block(container, name, value, eol);
    const entries = this.entries(verifyParses(next, file), container, file);
    if (!entries[name]) throw new FormatError(`${file}: cannot add [${[...container, name].join(".")}] here (is "${container.join(".")}" written inline?)`);
    return { text: next, undo: { prefix } satisfies Undo };
  },
  replace(text, container, name, value) {
    const span = entrySpan(text, container, name);
    if (!span) throw new FormatError(`[${[...container, name].join(".")}] is not written as a table; edit it by hand`);
    const original = text.slice(span.start, span.end);
    const eol = eolOf(text);
    const written = block(container, name, value, eol);
    return text.slice(0, span.start) + (original.endsWith("\n") ? written : written.slice(0, -eol.length)) + text.slice(span.end);
  },
  restore(text, container, name, original) {
    const span = entrySpan(text, container, name)!;
    return text.slice(0, span.start) + original + text.slice(span.end);
  },
  remove(text, container, name, undo) {
    const span = entrySpan(text, container, name);
    if (!span) return text;
    const eol = eolOf(text);
    const prefix = typeof undo.prefix === "string" ? undo.prefix : text.slice(0, span.start).endsWith(eol + eol) ? eol : "";
    const start = text.slice(0, span.start).endsWith(prefix) ? span.start - prefix.length : span.start;
    return text.slice(0, start) + text.slice(span.end);
  },
};

export { tables as tomlTables };
