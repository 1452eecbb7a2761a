/**
 * Terminal colour for the commands a person reads (status, stop, logs). Off when stdout is not a terminal or
 * NO_COLOR is set (no-color.org); FORCE_COLOR turns it on for pagers and tests.
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  if (process.env.NO_COLOR) return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY);
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], gray: [90, 39] } as const;
export type Style = keyof typeof CODES;

export function paint(text: string, style: Style, on = useColor()): string {
  if (!on) return text;
  const [open, close] = CODES[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

const ANSI = /\x1b\[[0-9;]*m/g;
export const visibleLength = (text: string) => text.replace(ANSI, "").length;

/** Columns padded to the widest cell, measured without colour codes. */
export function table(rows: string[][], gap = "  "): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? ""))));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell + " ".repeat(widths[i]! - visibleLength(cell)))
        .join(gap)
        .trimEnd(),
    )
    .join("\n");
}

/**
 * Breaks `text` into lines of at most `width` visible columns at spaces; a word longer than a line is cut.
 * Continuation lines start with `indent`.
 */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  // Leading spaces are kept (an indented line stays indented), as long as they leave room for text.
  let line = /^ */.exec(text)![0].slice(0, Math.max(0, width - 10));
  const room = () => width - (lines.length ? indent.length : 0);
  for (let word of text.split(/\s+/).filter(Boolean)) {
    if (line.trim() && visibleLength(line) + 1 + visibleLength(word) > room()) {
      lines.push(line);
      line = "";
    }
    while (visibleLength(word) > room()) {
      const fit = room() - visibleLength(line) - (line ? 1 : 0);
      if (fit <= 0) {
        lines.push(line);
        line = "";
        continue;
      }
      line = line.trim() ? `${line} ${word.slice(0, fit)}` : line + word.slice(0, fit);
      word = word.slice(fit);
      lines.push(line);
      line = "";
    }
    if (word) line = line.trim() ? `${line} ${word}` : line + word;
  }
  if (line.trim() || !lines.length) lines.push(line);
  return lines.map((l, i) => (i ? indent + l : l));
}

/** `text` cut to `width` visible columns, with an ellipsis when something was cut (plain text only). */
export function truncate(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  const plain = text.replace(ANSI, "");
  return plain.slice(0, Math.max(0, width - 1)) + "…";
}
