/**
 * Where things are in a JSON text, so a message about config.json can name a line: Bun's JSON.parse says what is
 * wrong ("Unexpected identifier") but not where, and a schema issue names a key path, not a line. Only run when
 * something is already wrong: a good file never pays for it.
 */

export interface Position {
  line: number;
  column: number;
}

export interface JsonPositions {
  /** Where a strict JSON reader first fails; undefined when the text is valid JSON. */
  error?: Position;
  /** The line of the key at `path` (the last of duplicates, as JSON.parse keeps); undefined when it is not there. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/** Scans `text` once: its first syntax error, and the line of every object key by its path. */
export function jsonPositions(text: string): JsonPositions {
  const keys = new Map<string, number>();
  let i = 0;
  const position = (at: number): Position => {
    const before = text.slice(0, at);
    return { line: before.split("\n").length, column: at - before.lastIndexOf("\n") };
  };
  const skip = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const string = (): string | undefined => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i]! < " ") return undefined;
      i += text[i] === "\\" ? 2 : 1;
    }
    if (i >= text.length) return undefined;
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return undefined;
    }
  };
  /** Steps over a closing bracket. */
  const close = (): true => {
    i++;
    return true;
  };
  // false: the syntax error is at `i`.
  const value = (path: string[]): boolean => {
    skip();
    const c = text[i];
    if (c === "{") {
      i++;
      skip();
      if (text[i] === "}") return close();
      for (;;) {
        skip();
        if (text[i] !== '"') return false;
        const at = i;
        const key = string();
        if (key === undefined) return false;
        keys.set([...path, key].join("\u0000"), at);
        skip();
        if (text[i] !== ":") return false;
        i++;
        if (!value([...path, key])) return false;
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return close();
        else return false;
      }
    }
    if (c === "[") {
      i++;
      skip();
      if (text[i] === "]") return close();
      for (let n = 0; ; n++) {
        if (!value([...path, String(n)])) return false;
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return close();
        else return false;
      }
    }
    if (c === '"') return string() !== undefined;
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!literal) return false;
    i += literal[0].length;
    return true;
  };
  let ok = value([]);
  if (ok) {
    skip();
    ok = i >= text.length;
  }
  return {
    error: ok ? undefined : position(Math.min(i, text.length)),
    lineOf: (path) => {
      const at = keys.get(path.map(String).join("\u0000"));
      return at === undefined ? undefined : position(at).line;
    },
  };
}
