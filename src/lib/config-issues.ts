import type * as z from "zod/mini";

/** Plain-English issues naming the key (zod/mini ships no message locale; this is all a person needs). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (issue: z.core.$ZodIssue, base: PropertyKey[]) => {
    const path = [...base, ...issue.path];
    const key = path.length ? path.map(String).join(".") : "(top level)";
    let text: string;
    switch (issue.code) {
      case "unrecognized_keys":
        text = `unknown key ${issue.keys.map((k) => `"${path.length ? `${key}.` : ""}${k}"`).join(", ")}`;
        break;
      case "invalid_type":
        text = `${key}: expected ${issue.expected === "int" ? "a whole number" : issue.expected}`;
        break;
      case "too_small":
        text =
          issue.origin === "string" && Number(issue.minimum) === 1
            ? `${key}: must not be empty`
            : `${key}: must be ${issue.inclusive === false ? "more than" : "at least"} ${String(issue.minimum)}`;
        break;
      case "too_big":
        text = `${key}: must be at most ${String(issue.maximum)}`;
        break;
      case "invalid_value":
        text = `${key}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        break;
      case "invalid_format":
        text = key.endsWith(".database")
          ? `${key}: must be a postgres:// or postgresql:// URL`
          : key.startsWith("targets.") && issue.format === "regex"
            ? `${key}: target names use letters, digits, ".", "_" and "-"`
            : `${key}: must ${issue.format === "starts_with" ? `start with "${(issue as { prefix?: string }).prefix}"` : `match ${issue.format}`}`;
        break;
      case "invalid_key":
        for (const inner of issue.issues) visit(inner, path);
        return;
      default:
        text = `${key}: ${issue.message}`;
    }
    if (!seen.has(text)) {
      seen.add(text);
      out.push(text);
    }
  };
  for (const issue of issues) visit(issue, []);
  return out.join("; ");
}
