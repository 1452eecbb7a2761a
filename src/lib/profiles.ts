/**
 * Profiles (docs/profiles.md): one editor entry, `msm proxy --profile NAME`, in front of several targets. A profile in
 * config.json names its targets, how their tools are shown (`mode`), the separator of the names it builds, and tool
 * rules of its own. The proxy reads a profile with this module (plain code, no zod: it is on every profile session's
 * start); config.ts holds the zod schema `msm doctor` and the supervisor validate with, and both say the same about
 * the same input (tests/unit/lib/profiles.test.ts).
 */
import { RULE_KINDS, ruleSetProblem } from "./tool-rules.ts";

/** "all": every target's tools, each named `target__tool`; "search": two tools, find_tools and call_tool. */
export const PROFILE_MODES = ["all", "search"] as const;
export type ProfileMode = (typeof PROFILE_MODES)[number];

export const DEFAULT_SEPARATOR = "__";
/** What a separator may be: characters every client accepts in a tool name (`^[a-zA-Z0-9_-]{1,64}$`). */
export const SEPARATOR = /^[A-Za-z0-9_-]{1,8}$/;
/** Target and profile names (config.ts's rule for target names). */
export const PROFILE_NAME = /^[a-z0-9][a-z0-9._-]*$/i;
/** More targets than this in one session is a mistake, not a profile. */
export const MAX_PROFILE_TARGETS = 64;

const KEYS = ["targets", "mode", "separator", ...RULE_KINDS];

export interface Profile {
  name: string;
  targets: string[];
  mode: ProfileMode;
  separator: string;
  /** The profile's own rules as written (`tools`, `prompts`, `resources`), on the names the profile shows. */
  rules: Partial<Record<(typeof RULE_KINDS)[number], unknown>>;
}

/**
 * What is wrong with one profile entry (`profiles.NAME`), or undefined when it is valid. `targets` (the names the
 * config knows) also checks that each named target exists; without it only the shape is checked.
 */
export function profileProblem(name: string, value: unknown, targets?: readonly string[]): string | undefined {
  const where = `profiles.${name}`;
  if (!PROFILE_NAME.test(name)) return `${where}: profile names use letters, digits, ".", "_" and "-"`;
  if (!value || typeof value !== "object" || Array.isArray(value)) return `${where}: expected object`;
  const entry = value as Record<string, unknown>;
  const unknown = Object.keys(entry).filter((k) => !KEYS.includes(k));
  if (unknown.length) return `unknown key ${unknown.map((k) => `"${where}.${k}"`).join(", ")}`;
  const list = entry.targets;
  if (!Array.isArray(list)) return `${where}.targets: expected array`;
  if (list.length === 0) return `${where}.targets: must not be empty`;
  if (list.length > MAX_PROFILE_TARGETS) return `${where}.targets: must be at most ${MAX_PROFILE_TARGETS}`;
  for (const [i, target] of list.entries()) {
    if (typeof target !== "string") return `${where}.targets.${i}: expected string`;
    if (!PROFILE_NAME.test(target)) return `${where}.targets.${i}: target names use letters, digits, ".", "_" and "-"`;
    if (list.indexOf(target) !== i) return `${where}.targets: "${target}" is named twice`;
    if (targets && !targets.includes(target)) return `${where}.targets: no target is named "${target}" (known: ${targets.join(", ")})`;
  }
  if (entry.mode !== undefined && !PROFILE_MODES.includes(entry.mode as ProfileMode))
    return `${where}.mode: must be one of ${PROFILE_MODES.map((m) => JSON.stringify(m)).join(", ")}`;
  if (entry.separator !== undefined && (typeof entry.separator !== "string" || !SEPARATOR.test(entry.separator)))
    return `${where}.separator: must be 1 to 8 letters, digits, "_" or "-" (what clients accept in a tool name)`;
  for (const kind of RULE_KINDS) {
    if (!(kind in entry)) continue;
    const problem = ruleSetProblem(entry[kind], `${where}.${kind}`);
    if (problem) return problem;
  }
  return undefined;
}

/** A valid profile entry with its defaults, or what is wrong with it. */
export function readProfile(name: string, value: unknown, targets?: readonly string[]): Profile | { problem: string } {
  const problem = profileProblem(name, value, targets);
  if (problem) return { problem };
  const entry = value as Record<string, unknown>;
  const rules: Profile["rules"] = {};
  for (const kind of RULE_KINDS) if (kind in entry) rules[kind] = entry[kind];
  return {
    name,
    targets: [...(entry.targets as string[])],
    mode: (entry.mode as ProfileMode | undefined) ?? "all",
    separator: (entry.separator as string | undefined) ?? DEFAULT_SEPARATOR,
    rules,
  };
}
