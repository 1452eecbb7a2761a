/**
 * Secrets written in clear in a server's entry (msm's config.json or an editor's): what `msm doctor` flags and what
 * `msm import` moves to the keychain instead of copying. A heuristic, tuned to miss little and to say why it
 * flagged something: a name that says secret (`*_TOKEN`, `*KEY*`, `*SECRET*`, `*PASSWORD*`, `Authorization`) with a
 * value that looks like one, or a value with a known token prefix anywhere (`ghp_`, `sk-`, `xoxb-`…). Findings
 * carry the secret part of the string so `import` can replace exactly it; nothing may print that part.
 */
import { pieces } from "./references.ts";

export interface ClearSecret {
  /** Where in the entry: `env.GITHUB_TOKEN`, `args[3]`, `headers.Authorization`, `url`. */
  where: string;
  /** Why it was flagged, for a person: "its name says it is a secret", "it looks like a GitHub token". */
  why: string;
  /** The secret part of the string (the whole value, or what follows `--token=`). Never to be printed. */
  value: string;
}

/** Words of a variable, header or flag name that say it holds a secret. */
const SECRET_WORDS = new Set([
  "token",
  "secret",
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "key",
  "apikey",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "pat",
  "cookie",
]);
/** A last word that makes the name describe a secret rather than hold one: `TOKEN_FILE`, `API_KEY_ENV`, `KEY_ID`. */
const ABOUT_WORDS = new Set([
  "file",
  "path",
  "dir",
  "url",
  "uri",
  "name",
  "id",
  "type",
  "env",
  "var",
  "header",
  "field",
  "prefix",
  "count",
  "length",
  "size",
  "limit",
  "mode",
  "format",
]);

/** Known token shapes: a match is a secret wherever it appears. */
const TOKEN_SHAPES: [RegExp, string][] = [
  [/\bgh[pousr]_[A-Za-z0-9]{16,}/, "a GitHub token (gh?_…)"],
  [/\bgithub_pat_[A-Za-z0-9_]{16,}/, "a GitHub token (github_pat_…)"],
  [/\bglpat-[A-Za-z0-9_-]{16,}/, "a GitLab token (glpat-…)"],
  [/\bsk-ant-[A-Za-z0-9_-]{16,}/, "an Anthropic key (sk-ant-…)"],
  [/\bsk-[A-Za-z0-9_-]{16,}/, "an API key (sk-…)"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, "a Slack token (xox?-…)"],
  [/\bxapp-[A-Za-z0-9-]{10,}/, "a Slack app token (xapp-…)"],
  [/\bAKIA[0-9A-Z]{16}\b/, "an AWS access key (AKIA…)"],
  [/\bAIza[0-9A-Za-z_-]{30,}/, "a Google API key (AIza…)"],
  [/\bnpm_[A-Za-z0-9]{30,}/, "an npm token (npm_…)"],
  [/\bhf_[A-Za-z0-9]{30,}/, "a Hugging Face token (hf_…)"],
  [/\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}/, "a Stripe key (sk_live_…)"],
  [/\blin_api_[A-Za-z0-9]{16,}/, "a Linear key (lin_api_…)"],
  [/\bpplx-[A-Za-z0-9]{16,}/, "a Perplexity key (pplx-…)"],
];

/** Headers whose value is a credential whatever it looks like. */
const AUTH_HEADERS = new Set(["authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token", "cookie"]);

/** The words of a name: `GITHUB_PERSONAL_ACCESS_TOKEN`, `apiKey`, `x-api-key`, `--api-key`. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Does this variable, header or flag name say its value is a secret? */
export function secretName(name: string): boolean {
  const parts = words(name);
  if (!parts.length || ABOUT_WORDS.has(parts.at(-1)!)) return false;
  return parts.some((w) => SECRET_WORDS.has(w));
}

/** The first known token shape in `text`: what it is and the match, or undefined. */
export function tokenIn(text: string): { what: string; match: string } | undefined {
  for (const [shape, what] of TOKEN_SHAPES) {
    const found = shape.exec(text);
    if (found) return { what, match: found[0] };
  }
  return undefined;
}

/** The literal part of a string: references (`${…}`) are no secret of their own. */
function literalOf(text: string): string {
  return pieces(text)
    .map((p) => ("literal" in p ? p.literal : " "))
    .join("");
}

/** Could this value, under a secret-sounding name, be the secret itself (not a path, a flag, a number, a reference)? */
function plausible(value: string): boolean {
  const v = value.trim();
  if (v.length < 8 || /\s/.test(v) || v.includes("${")) return false;
  if (/^(true|false|yes|no|null|none|on|off)$/i.test(v) || /^\d+$/.test(v)) return false;
  if (/^(\/|~|\.\.?[\\/]|[A-Za-z]:[\\/])/.test(v)) return false;
  // A URL names a place unless it carries a password.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i.test(v)) return false;
  return true;
}

/** `Bearer abc…`, `Basic abc…`, `token abc…`: the credential after the scheme word. */
function credentialOf(value: string): string {
  const match = /^\s*(?:bearer|basic|token|bot|apikey)\s+(\S+)\s*$/i.exec(value);
  return match ? match[1]! : value.trim();
}

/** One string, under a name that may say secret: a finding, or undefined. */
function check(where: string, name: string | undefined, text: string, header = false): ClearSecret | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  const literal = literalOf(text);
  const token = tokenIn(literal);
  if (token) return { where, why: `it looks like ${token.what}`, value: token.match };
  if (name === undefined) return undefined;
  const named = header ? AUTH_HEADERS.has(name.toLowerCase()) || secretName(name) : secretName(name);
  if (!named || text !== literal) return undefined;
  const value = header ? credentialOf(text) : text;
  if (!plausible(value)) return undefined;
  return { where, why: `its name (${name}) says it is a secret`, value };
}

/** A URL's password (`https://user:pass@…`) or a query parameter named like a secret (`?api_key=…`). */
function checkUrl(where: string, text: unknown): ClearSecret | undefined {
  if (typeof text !== "string") return undefined;
  const literal = literalOf(text);
  const token = tokenIn(literal);
  if (token) return { where, why: `it holds ${token.what}`, value: token.match };
  const auth = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:([^/@\s]+)@/i.exec(literal);
  if (auth && !auth[1]!.includes("${")) return { where, why: "it holds a password", value: auth[1]! };
  const query = literal.indexOf("?");
  if (query >= 0) {
    for (const pair of literal.slice(query + 1).split(/[&#]/)) {
      const [key, value] = pair.split("=", 2);
      if (key && value && secretName(decodeURIComponent(key)) && value.length >= 8) return { where, why: `its parameter ${key} says it is a secret`, value };
    }
  }
  return undefined;
}

/** Arguments: a token anywhere, `--token=VALUE`, `NAME=VALUE`, or `--api-key VALUE`. */
function checkArgs(args: unknown): ClearSecret[] {
  if (!Array.isArray(args)) return [];
  const found: ClearSecret[] = [];
  for (const [i, arg] of args.entries()) {
    if (typeof arg !== "string") continue;
    const where = `args[${i}]`;
    const token = tokenIn(literalOf(arg));
    if (token) {
      found.push({ where, why: `it holds ${token.what}`, value: token.match });
      continue;
    }
    const assign = /^(-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/.exec(arg);
    if (assign && secretName(assign[1]!) && plausible(assign[2]!)) {
      found.push({ where, why: `its name (${assign[1]}) says it is a secret`, value: assign[2]! });
      continue;
    }
    const previous = args[i - 1];
    if (
      typeof previous === "string" &&
      /^--?[A-Za-z]/.test(previous) &&
      !previous.includes("=") &&
      secretName(previous) &&
      !arg.startsWith("-") &&
      plausible(arg)
    ) {
      found.push({ where, why: `it follows ${previous}`, value: arg });
    }
  }
  return found;
}

/**
 * Every secret written in clear in one server entry, in msm's shape or an editor's (`command`, `args`, `env`, `cwd`;
 * `url`/`serverUrl` and `headers`; msm's `oauth.clientSecret` and memory's `database`). References are never flagged.
 */
export function clearSecrets(entry: unknown): ClearSecret[] {
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return [];
  const e = entry as Record<string, unknown>;
  const found: (ClearSecret | undefined)[] = [];
  found.push(typeof e.command === "string" ? check("command", undefined, e.command) : undefined);
  found.push(...checkArgs(e.args));
  for (const key of ["env", "headers", "http_headers"] as const) {
    const map = e[key];
    if (!map || typeof map !== "object" || Array.isArray(map)) continue;
    for (const [name, value] of Object.entries(map)) {
      if (typeof value === "string") found.push(check(`${key}.${name}`, name, value, key !== "env"));
    }
  }
  found.push(checkUrl("url", e.url), checkUrl("serverUrl", e.serverUrl), checkUrl("database", e.database));
  const oauth = e.oauth as Record<string, unknown> | undefined;
  if (oauth && typeof oauth.clientSecret === "string" && oauth.clientSecret !== "" && !oauth.clientSecret.includes("${")) {
    found.push({ where: "oauth.clientSecret", why: "it is the OAuth client's secret", value: oauth.clientSecret });
  }
  return found.filter((f): f is ClearSecret => f !== undefined);
}

/**
 * The keychain name `msm import` stores a finding under, and `msm doctor` suggests: the target and where in it
 * (`github.GITHUB_TOKEN`, `linear.Authorization`, `fs.args3`).
 */
export function secretNameFor(target: string, where: string): string {
  const tail = where.replace(/^(env|headers|http_headers)\./, "").replace(/^oauth\./, "");
  return `${target}.${tail}`.replace(/[^A-Za-z0-9._-]/g, "").replace(/^[^A-Za-z0-9]+/, "");
}
