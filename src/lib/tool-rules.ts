/**
 * Tool rules (docs/configuration.md "Tool rules"): which of a target's tools, prompts and resources reach the
 * editor. A target's entry in config.json may say `"tools": { "allow": [...], "deny": [...] }` (and the same for
 * `prompts` and `resources`); a project's `.claude/msm.json` may add rules of its own, which can only hide more.
 * The proxy enforces them (src/proxy/rules.ts), so this module is plain code: no zod, nothing heavy. config.ts holds
 * the zod schema `msm doctor` and the supervisor validate with; both say the same things about the same input
 * (tests/unit/lib/tool-rules.test.ts).
 */

import { errorResponse, type JsonRpcId, type JsonRpcMessage } from "./jsonrpc/messages.ts";
import type { ProjectFile } from "./project-file.ts";

/** What rules apply to: tools by name, prompts by name, resources by URI (templates by their URI template). */
export const RULE_KINDS = ["tools", "prompts", "resources"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** Bounds that keep a rule cheap to check against every list entry. */
export const MAX_PATTERNS = 1000;
export const MAX_PATTERN_LENGTH = 512;

/** One `{ allow, deny }` object as written in one file. */
export interface RuleSet {
  /** Patterns a name must match one of to be shown; absent = everything is allowed. `[]` allows nothing. */
  allow?: string[];
  /** Patterns that hide a name whatever `allow` says. */
  deny?: string[];
  /** The file the rules come from (config.json or a project's .claude/msm.json). */
  file: string;
  /** Where in that file: `targets.NAME.tools`. */
  key: string;
}

/** Every rule that applies to one target's session, layer by layer: the user's first, then the project's. */
export interface TargetRules {
  target: string;
  layers: Partial<Record<RuleKind, RuleSet[]>>;
  /**
   * Kinds whose rules could not be read, with what is wrong: nothing of that kind is shown (fail closed), and every
   * answer about it says why.
   */
  broken: Partial<Record<RuleKind, string>>;
}

/** Why a name is hidden: the pattern (deny) or the list (allow) that hides it, and where that is written. */
export type Hidden =
  | { by: "deny"; pattern: string; file: string; key: string }
  | { by: "allow"; patterns: string[]; file: string; key: string }
  | { by: "broken"; problem: string };

/**
 * `*` matches any run of characters (none included, `/` included), `?` exactly one; everything else stands for
 * itself, case-sensitive. Written as a two-pointer walk rather than a RegExp: a pattern full of stars cannot make a
 * backtracking regex crawl over a long name.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === "*") {
      star = p++;
      resume = t;
    } else if (c !== undefined && (c === "?" || c === text[t])) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** What is wrong with one rule object (`where` names it: `targets.fs.tools`), or undefined when it is valid. */
export function ruleSetProblem(value: unknown, where: string): string | undefined {
  if (!value || typeof value !== "object" || Array.isArray(value)) return `${where}: expected object`;
  const unknown = Object.keys(value).filter((k) => k !== "allow" && k !== "deny");
  if (unknown.length) return `unknown key ${unknown.map((k) => `"${where}.${k}"`).join(", ")}`;
  for (const side of ["allow", "deny"] as const) {
    const list = (value as Record<string, unknown>)[side];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `${where}.${side}: expected array`;
    if (list.length > MAX_PATTERNS) return `${where}.${side}: must be at most ${MAX_PATTERNS}`;
    for (const [i, pattern] of list.entries()) {
      if (typeof pattern !== "string") return `${where}.${side}.${i}: expected string`;
      if (pattern.length === 0) return `${where}.${side}.${i}: must not be empty`;
      if (pattern.length > MAX_PATTERN_LENGTH) return `${where}.${side}.${i}: must be at most ${MAX_PATTERN_LENGTH}`;
    }
  }
  return undefined;
}

/** A rule object read as a RuleSet, or what is wrong with it. */
export function parseRuleSet(value: unknown, file: string, key: string): RuleSet | { problem: string } {
  const problem = ruleSetProblem(value, key);
  if (problem) return { problem };
  const v = value as { allow?: string[]; deny?: string[] };
  return { ...(v.allow ? { allow: [...v.allow] } : {}), ...(v.deny ? { deny: [...v.deny] } : {}), file, key };
}

/**
 * Adds the rules of one target entry (`entry`: the object under `targets.NAME` in `file`) to `rules`. Keys other
 * than the rule kinds are the caller's business (config.json's other keys; a project file may hold only rules).
 */
export function addLayer(rules: TargetRules, entry: Record<string, unknown>, file: string): void {
  for (const kind of RULE_KINDS) {
    if (!(kind in entry)) continue;
    const key = `targets.${rules.target}.${kind}`;
    const parsed = parseRuleSet(entry[kind], file, key);
    if ("problem" in parsed) {
      rules.broken[kind] ??= `${parsed.problem} (in ${file})`;
      continue;
    }
    (rules.layers[kind] ??= []).push(parsed);
  }
}

export function emptyRules(target: string): TargetRules {
  return { target, layers: {}, broken: {} };
}

/**
 * Every rule for one target's session: the user's (`entry`, the target's object in `configFile`, as written), then
 * the project's (`project`, its `.claude/msm.json` as read). `notes`: what a person should hear about rules that
 * were not used (a project file someone else could have written), for stderr.
 *
 * A project's file can only hide more: its layer is checked after the user's and can never show what that one
 * hid. Anything wrong in it that could be a rule — the file unreadable, `targets` or the target's entry not an
 * object, a key other than tools/prompts/resources in it — hides everything of every kind (fail closed), since a
 * rule meant to hide cannot be told from one that was not.
 */
export function rulesFor(
  target: string,
  entry: Record<string, unknown> | undefined,
  configFile: string,
  project?: ProjectFile,
): { rules: TargetRules; notes: string[] } {
  const rules = emptyRules(target);
  const notes: string[] = [];
  if (entry) addLayer(rules, entry, configFile);
  if (!project || project.state === "absent") return { rules, notes };
  if (project.state === "ignored") {
    notes.push(`${project.file} is not used for tool rules: ${project.reason} (msm reads a project's files only when you alone can write them)`);
    return { rules, notes };
  }
  const breakAll = (problem: string) => {
    for (const kind of RULE_KINDS) rules.broken[kind] ??= `${project.file} ${problem}`;
  };
  if (project.state === "invalid") {
    breakAll(project.problem);
    return { rules, notes };
  }
  const value = project.value;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    breakAll("is invalid: (top level): expected object");
    return { rules, notes };
  }
  const targets = (value as Record<string, unknown>).targets;
  if (targets === undefined) return { rules, notes };
  if (!targets || typeof targets !== "object" || Array.isArray(targets)) {
    breakAll("is invalid: targets: expected object");
    return { rules, notes };
  }
  const own = (targets as Record<string, unknown>)[target];
  if (own === undefined) return { rules, notes };
  if (!own || typeof own !== "object" || Array.isArray(own)) {
    breakAll(`is invalid: targets.${target}: expected object`);
    return { rules, notes };
  }
  const other = Object.keys(own).filter((k) => !(RULE_KINDS as readonly string[]).includes(k));
  if (other.length) {
    breakAll(`is invalid: unknown key ${other.map((k) => `"targets.${target}.${k}"`).join(", ")} (a project may set only "tools", "prompts", "resources")`);
    return { rules, notes };
  }
  addLayer(rules, own as Record<string, unknown>, project.file);
  return { rules, notes };
}

/** True when the rules can hide anything at all (a session without rules skips every check). */
export function hasRules(rules: TargetRules): boolean {
  return RULE_KINDS.some((kind) => rules.broken[kind] !== undefined || (rules.layers[kind]?.length ?? 0) > 0);
}

/**
 * Whether `name` (a tool or prompt name, a resource URI) is shown: undefined when it is, else what hides it. Every
 * layer must let it through — a later layer (the project's) can hide more, never show what an earlier one hid —
 * and within a layer `deny` wins over `allow`.
 */
export function decide(rules: TargetRules, kind: RuleKind, name: string): Hidden | undefined {
  const broken = rules.broken[kind];
  if (broken !== undefined) return { by: "broken", problem: broken };
  for (const layer of rules.layers[kind] ?? []) {
    const deny = layer.deny?.find((pattern) => globMatch(pattern, name));
    if (deny !== undefined) return { by: "deny", pattern: deny, file: layer.file, key: layer.key };
    if (layer.allow && !layer.allow.some((pattern) => globMatch(pattern, name)))
      return { by: "allow", patterns: layer.allow, file: layer.file, key: layer.key };
  }
  return undefined;
}

/** The list methods rules filter, the array each answer holds, and the field each entry is known by. */
export const LIST_FIELDS: Record<string, { kind: RuleKind; array: string; field: string }> = {
  "tools/list": { kind: "tools", array: "tools", field: "name" },
  "prompts/list": { kind: "prompts", array: "prompts", field: "name" },
  "resources/list": { kind: "resources", array: "resources", field: "uri" },
  "resources/templates/list": { kind: "resources", array: "resourceTemplates", field: "uriTemplate" },
};

/**
 * A list answer's result without the entries the rules hide (a new object; the input is not changed), and how many
 * were hidden. Other keys (`nextCursor`, `_meta`) are kept: a page left empty still leads to the next one.
 */
export function filterList(rules: TargetRules, method: string, result: unknown): { result: unknown; hidden: number } {
  const list = LIST_FIELDS[method];
  if (!list || !result || typeof result !== "object") return { result, hidden: 0 };
  const entries = (result as Record<string, unknown>)[list.array];
  if (!Array.isArray(entries)) return { result, hidden: 0 };
  const kept = entries.filter((entry) => {
    const name = entry && typeof entry === "object" ? (entry as Record<string, unknown>)[list.field] : undefined;
    // An entry without a name cannot be matched against a rule: hidden whenever any rule of its kind applies.
    return typeof name === "string" ? decide(rules, list.kind, name) === undefined : false;
  });
  return { result: { ...(result as Record<string, unknown>), [list.array]: kept }, hidden: entries.length - kept.length };
}

/** Whether a kind has any rule (or broken rules) for this session: a kind without is never checked. */
export function governs(rules: TargetRules, kind: RuleKind): boolean {
  return rules.broken[kind] !== undefined || (rules.layers[kind]?.length ?? 0) > 0;
}

/** JSON-RPC codes of the refusals: MCP's own for an unknown tool or prompt, and for a resource not found. */
export const INVALID_PARAMS = -32602;
export const RESOURCE_NOT_FOUND = -32002;
/** The proxy's own "cannot answer this" range (jsonrpc/messages.ts UPSTREAM_ERROR): rules that cannot be read. */
export const RULES_BROKEN = -32000;

const NOUN: Record<RuleKind, string> = { tools: "tool", prompts: "prompt", resources: "resource" };

/** One sentence: what is hidden, by which rule, written where. `owner`: whose name it is (a profile's, say). */
export function hiddenText(target: string, kind: RuleKind, name: string, hidden: Hidden, owner = `target "${target}"`): string {
  const what = `the ${NOUN[kind]} ${JSON.stringify(name)} of ${owner}`;
  if (hidden.by === "broken") return `msm: ${what} is not shown: ${brokenText(target, kind, hidden.problem)}`;
  const rule =
    hidden.by === "deny"
      ? `is hidden by the pattern ${JSON.stringify(hidden.pattern)} in "deny"`
      : `is hidden: it matches no pattern in "allow" (${hidden.patterns.length ? hidden.patterns.map((p) => JSON.stringify(p)).join(", ") : "an empty list"})`;
  return `msm: ${what} ${rule} of ${hidden.key} in ${hidden.file}`;
}

/** Why nothing of a kind is shown when its rules cannot be read. */
export function brokenText(target: string, kind: RuleKind, problem: string): string {
  return `the ${NOUN[kind]} rules of target "${target}" are invalid (${problem}), so no ${NOUN[kind]} of it is shown until they are fixed`;
}

/** The error answer msm gives in the server's place for a request that names something hidden. */
export function hiddenAnswer(id: JsonRpcId, target: string, kind: RuleKind, name: string, hidden: Hidden, owner?: string): JsonRpcMessage {
  const code = hidden.by === "broken" ? RULES_BROKEN : kind === "resources" ? RESOURCE_NOT_FOUND : INVALID_PARAMS;
  const answer = errorResponse(id, code, hiddenText(target, kind, name, hidden, owner));
  const rule =
    hidden.by === "broken"
      ? { problem: hidden.problem }
      : { file: hidden.file, key: `${hidden.key}.${hidden.by}`, ...(hidden.by === "deny" ? { pattern: hidden.pattern } : { patterns: hidden.patterns }) };
  (answer.error as Record<string, unknown>).data = { hiddenBy: rule, [kind === "resources" ? "uri" : "name"]: name };
  return answer;
}

/** The error answer for a list request whose kind's rules cannot be read (fail closed: nothing shown, and why). */
export function brokenListAnswer(id: JsonRpcId, target: string, kind: RuleKind, problem: string): JsonRpcMessage {
  const answer = errorResponse(id, RULES_BROKEN, `msm: ${brokenText(target, kind, problem)}`);
  (answer.error as Record<string, unknown>).data = { hiddenBy: { problem } };
  return answer;
}
