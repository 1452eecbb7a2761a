/**
 * A unified diff of two texts for `--dry-run`. Editor configs are edited in a few places, so the common head and
 * tail are cut first and only the middle is compared line by line (LCS, bounded; beyond the bound it is shown whole).
 */
const CONTEXT = 3;
const MAX_CELLS = 4_000_000;

export function unifiedDiff(before: string, after: string, label: string): string {
  if (before === after) return "";
  const a = before === "" ? [] : before.split("\n");
  const b = after === "" ? [] : after.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops = middle(a.slice(head, a.length - tail), b.slice(head, b.length - tail));
  const lines: { op: " " | "-" | "+"; text: string; aLine: number; bLine: number }[] = [];
  let ai = 0;
  let bi = 0;
  const push = (op: " " | "-" | "+", text: string) => {
    lines.push({ op, text, aLine: ai, bLine: bi });
    if (op !== "+") ai++;
    if (op !== "-") bi++;
  };
  for (let k = 0; k < head; k++) push(" ", a[k]!);
  for (const [op, text] of ops) push(op, text);
  for (let k = a.length - tail; k < a.length; k++) push(" ", a[k]!);
  // Group changes into hunks with CONTEXT lines around them.
  const out = [`--- ${label}`, `+++ ${label} (after msm)`];
  let k = 0;
  while (k < lines.length) {
    if (lines[k]!.op === " ") {
      k++;
      continue;
    }
    let start = Math.max(0, k - CONTEXT);
    let end = k;
    for (;;) {
      while (end < lines.length && lines[end]!.op !== " ") end++;
      let next = end;
      while (next < lines.length && lines[next]!.op === " " && next - end < 2 * CONTEXT) next++;
      if (next < lines.length && lines[next]!.op !== " ") end = next;
      else break;
    }
    const stop = Math.min(lines.length, end + CONTEXT);
    const hunk = lines.slice(start, stop);
    const aCount = hunk.filter((l) => l.op !== "+").length;
    const bCount = hunk.filter((l) => l.op !== "-").length;
    out.push(`@@ -${hunk[0]!.aLine + 1},${aCount} +${hunk[0]!.bLine + 1},${bCount} @@`);
    for (const l of hunk) out.push(`${l.op}${l.text}`);
    k = stop;
    start = stop;
  }
  return out.join("\n") + "\n";
}

function middle(a: string[], b: string[]): [" " | "-" | "+", string][] {
  if (a.length * b.length > MAX_CELLS) return [...a.map((t) => ["-", t] as ["-", string]), ...b.map((t) => ["+", t] as ["+", string])];
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: [" " | "-" | "+", string][] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push([" ", a[i]!]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push(["-", a[i++]!]);
    else ops.push(["+", b[j++]!]);
  }
  return ops;
}
