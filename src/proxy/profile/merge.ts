/**
 * How a profile makes one answer out of its targets' answers (docs/profiles.md "What the session sees"). Pure
 * functions of the answers, so a profile of one target gives exactly that target's answer apart from the documented
 * names: every key a target's answer has is kept from the first target that gave one.
 */
import { VERSION } from "../../lib/version.ts";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === "object" && !Array.isArray(v);

/** The meta key of a 2026-07-28 answer's server info (it has no `serverInfo` field). */
export const SERVER_INFO_META = "io.modelcontextprotocol/serverInfo";

/** The list kinds whose `listChanged` a profile itself may need to say (a target leaving or coming back). */
const LISTED = ["tools", "prompts", "resources"];

/**
 * The union of several capability objects: an object present in any is present, merged key by key; `true` anywhere
 * wins over `false`; any other value is the first one given.
 */
export function unionCapabilities(all: unknown[]): Json {
  const out: Json = {};
  for (const caps of all) {
    if (!isObject(caps)) continue;
    for (const [key, value] of Object.entries(caps)) {
      const had = out[key];
      if (had === undefined) out[key] = isObject(value) ? unionCapabilities([value]) : value;
      else if (isObject(had) && isObject(value)) out[key] = unionCapabilities([had, value]);
      else if (had === false && value === true) out[key] = true;
    }
  }
  return out;
}

export interface TargetAnswer {
  target: string;
  result: Json;
}

export interface ProfileFacts {
  name: string;
  mode: "all" | "search";
  /** Every target of the profile (not only those that answered): more than one means lists change as they come and go. */
  targets: readonly string[];
}

/** What the profile calls itself, in `serverInfo` (and a 2026-07-28 answer's `_meta`). */
export function profileInfo(profile: ProfileFacts): Json {
  return { name: profile.name, title: `msm profile ${profile.name}`, version: VERSION };
}

/**
 * The capabilities a profile declares: the union of its targets'. With several targets every listed kind also says
 * `listChanged`, since a target that fails or comes back changes the list; in search mode the editor's tool list
 * never changes (always find_tools and call_tool), so `tools` is `{}` whatever the targets say.
 */
export function profileCapabilities(profile: ProfileFacts, answers: TargetAnswer[]): Json {
  const caps = unionCapabilities(answers.map((a) => a.result.capabilities));
  if (profile.targets.length > 1) for (const kind of LISTED) if (isObject(caps[kind])) caps[kind] = { ...(caps[kind] as Json), listChanged: true };
  if (profile.mode === "search") caps.tools = {};
  return caps;
}

/** Each target's instructions, prefixed by its name; in search mode, first a sentence on how to find tools. */
export function profileInstructions(profile: ProfileFacts, answers: TargetAnswer[]): string | undefined {
  const parts: string[] = [];
  if (profile.mode === "search") {
    parts.push(
      `The tools of ${profile.targets.join(", ")} are reached through two tools: call find_tools with a few words of what you ` +
        `want to do, then call_tool with the name it returns and the arguments its schema asks for.`,
    );
  }
  for (const { target, result } of answers) if (typeof result.instructions === "string" && result.instructions) parts.push(`${target}: ${result.instructions}`);
  return parts.length ? parts.join("\n\n") : undefined;
}

/**
 * The profile's answer to `initialize`: the first answer's keys, the version all targets agreed on (the editor's own
 * when they differ: each target keeps the one it chose), the union of capabilities, the profile as `serverInfo`, and
 * the targets' instructions.
 */
export function mergeInitialize(profile: ProfileFacts, requestedVersion: unknown, answers: TargetAnswer[]): Json {
  const first = answers[0]!.result;
  const versions = new Set(answers.map((a) => a.result.protocolVersion));
  const protocolVersion = versions.size === 1 ? first.protocolVersion : typeof requestedVersion === "string" ? requestedVersion : first.protocolVersion;
  const { instructions: _, ...rest } = first;
  const instructions = profileInstructions(profile, answers);
  return {
    ...rest,
    protocolVersion,
    capabilities: profileCapabilities(profile, answers),
    serverInfo: profileInfo(profile),
    ...(instructions !== undefined ? { instructions } : {}),
  };
}

/** The 2026-07-28 revision's `server/discover` answer: the versions every target supports, and the same as above. */
export function mergeDiscover(profile: ProfileFacts, answers: TargetAnswer[]): Json {
  const first = answers[0]!.result;
  const lists = answers.map((a) => (Array.isArray(a.result.supportedVersions) ? (a.result.supportedVersions as unknown[]) : []));
  const supportedVersions = lists[0]!.filter((v) => lists.every((list) => list.includes(v)));
  const { instructions: _, ...rest } = first;
  const instructions = profileInstructions(profile, answers);
  const meta = isObject(first._meta) ? first._meta : {};
  return {
    ...rest,
    _meta: { ...meta, [SERVER_INFO_META]: profileInfo(profile) },
    supportedVersions,
    capabilities: profileCapabilities(profile, answers),
    ...(instructions !== undefined ? { instructions } : {}),
  };
}

/** The array each list answer holds, and the field its entries are known by. */
export const LIST_SHAPES = {
  "tools/list": { array: "tools", key: "name", kind: "tools" },
  "prompts/list": { array: "prompts", key: "name", kind: "prompts" },
  "resources/list": { array: "resources", key: "uri", kind: "resources" },
  "resources/templates/list": { array: "resourceTemplates", key: "uriTemplate", kind: "resources" },
} as const;
export type ListMethod = keyof typeof LIST_SHAPES;

/** One target's whole list (every page): the entries, and the first page's other keys. */
export interface TargetList {
  entries: Json[];
  rest: Json;
}

/** A list answer's entries (an empty list for a malformed answer). */
export function entriesOf(method: ListMethod, result: Json): Json[] {
  const list = result[LIST_SHAPES[method].array];
  return Array.isArray(list) ? list.filter(isObject) : [];
}

/** Pages of one target's list joined into one: the first page's other keys, every page's entries. */
export function joinPages(method: ListMethod, pages: Json[]): TargetList {
  const { [LIST_SHAPES[method].array]: _, nextCursor: __, ...rest } = pages[0] ?? {};
  return { entries: pages.flatMap((page) => entriesOf(method, page)), rest };
}

/**
 * One answer out of several targets' lists, in the profile's order: `rename` gives an entry's shown form (a new
 * name for tools and prompts), or undefined to leave it out. A resource (or template) listed by two targets is shown
 * once, from the first: its reads go there too (docs/profiles.md).
 */
export function mergeLists(method: ListMethod, parts: { target: string; list: TargetList }[], rename: (target: string, entry: Json) => Json | undefined): Json {
  const shape = LIST_SHAPES[method];
  const seen = new Set<string>();
  const entries: Json[] = [];
  for (const { target, list } of parts) {
    for (const entry of list.entries) {
      const shown = rename(target, entry);
      if (!shown) continue;
      if (shape.kind === "resources") {
        const key = String(shown[shape.key]);
        if (seen.has(key)) continue;
        seen.add(key);
      }
      entries.push(shown);
    }
  }
  return { ...(parts[0]?.list.rest ?? {}), [shape.array]: entries };
}
