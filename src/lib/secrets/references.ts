/**
 * Secret references in a target's strings (docs/configuration.md, "Secret references"): `${VAR}` and
 * `${VAR:-default}` read a variable, `${secret:NAME}` reads an entry of the OS keychain, and `$${` is a literal
 * `${`. Pure text work, no keychain and no file: config.ts checks the syntax with it in every process (the proxy
 * too), and only the process that starts a server resolves anything (resolve.ts).
 *
 * Any other `${…}` (a shell's own `${1}`, `${#}`) is left as written, as editors that expand `${VAR}` leave it.
 */

export type Reference = { kind: "env"; name: string; fallback?: string } | { kind: "secret"; name: string };

/** A keychain entry's name: letters, digits, `.`, `_`, `-`, starting with a letter or digit (it is also a word in argv). */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

// `$${` first, so the escape wins; then `${secret:…}` (checked below), then `${VAR}` / `${VAR:-default}`.
const PATTERN = /\$\$\{|\$\{secret:([^}]*)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

type Piece = { literal: string } | { reference: Reference; text: string };

/** `text` cut into literal runs and references, in order (the escape `$${` already turned into `${`). */
export function pieces(text: string): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  let literal = "";
  for (const match of text.matchAll(PATTERN)) {
    literal += text.slice(at, match.index);
    at = match.index + match[0].length;
    if (match[0] === "$${") {
      literal += "${";
      continue;
    }
    if (literal) out.push({ literal });
    literal = "";
    const reference: Reference =
      match[1] !== undefined ? { kind: "secret", name: match[1] } : { kind: "env", name: match[2]!, ...(match[3] !== undefined ? { fallback: match[3] } : {}) };
    out.push({ reference, text: match[0] });
  }
  literal += text.slice(at);
  if (literal) out.push({ literal });
  return out;
}

/** Does `text` hold anything to resolve (or an escape to undo)? The cheap test before any work. */
export function hasReferences(text: string): boolean {
  return text.includes("${");
}

/** The references in `text`. */
export function referencesIn(text: string): Reference[] {
  return pieces(text).flatMap((p) => ("reference" in p ? [p.reference] : []));
}

/** How a reference is written, for messages: `${GITHUB_TOKEN}`, `${secret:github}`. Never a value. */
export function describeReference(reference: Reference): string {
  return reference.kind === "secret" ? `\${secret:${reference.name}}` : `\${${reference.name}}`;
}

/** What is wrong with the references in `text` (a keychain name msm cannot use), or undefined. */
export function referenceProblem(text: string): string | undefined {
  for (const reference of referencesIn(text)) {
    if (reference.kind === "secret" && !SECRET_NAME.test(reference.name)) {
      return `"\${secret:${reference.name}}" is not a keychain entry name (letters, digits, ".", "_" and "-", starting with a letter or digit)`;
    }
  }
  return undefined;
}

/**
 * `text` with every reference replaced by `value(reference)` and every literal run passed through `literal` (the
 * project placeholder is filled there): a resolved value is never scanned again, so a value holding `{project}` or
 * `${…}`, or a project folder named like a reference, stays exactly what it is.
 */
export function substitute(text: string, value: (reference: Reference) => string, literal: (text: string) => string = (t) => t): string {
  return pieces(text)
    .map((p) => ("literal" in p ? literal(p.literal) : value(p.reference)))
    .join("");
}

/** Which targets of a config (as parsed JSON, broken entries included) use each keychain name. */
export function secretUses(config: unknown): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const targets = config && typeof config === "object" ? (config as { targets?: unknown }).targets : undefined;
  if (!targets || typeof targets !== "object") return uses;
  const walk = (target: string, value: unknown): void => {
    if (typeof value === "string") {
      for (const reference of referencesIn(value)) {
        if (reference.kind !== "secret") continue;
        const list = uses.get(reference.name) ?? [];
        if (!list.includes(target)) uses.set(reference.name, [...list, target]);
      }
    } else if (value && typeof value === "object") for (const inner of Object.values(value)) walk(target, inner);
  };
  for (const [name, entry] of Object.entries(targets)) walk(name, entry);
  return uses;
}
