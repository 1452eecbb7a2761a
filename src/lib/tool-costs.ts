import { entriesOf, type DiscoveryEntry } from "./discovery-cache.ts";
import { paths } from "./paths.ts";
import { readProjectFile } from "./project-file.ts";
import { rawTargetEntry } from "./raw-config.ts";
import { ESTIMATE_NOTE, toolTokens } from "./token-estimate.ts";
import { decide, rulesFor, type Hidden } from "./tool-rules.ts";

/**
 * What each tool of a target costs in a model's context, and what its rules hide (`msm status --tools`, the
 * dashboard's Tools view). The tools are the ones the discovery cache holds (the newest entry: what a session of
 * the target was last told); the rules are the target's in config.json, plus a project's `.claude/msm.json` when
 * one is named — the same rules, read the same way, as the proxy applies.
 */
export interface ToolCost {
  name: string;
  /** Estimated tokens of its definition (lib/token-estimate.ts). */
  tokens: number;
  /** Why a session does not see it; absent when it is shown. */
  hidden?: string;
  /** Where the hiding rule is written (a file path); absent when shown or when the rules cannot be read. */
  hiddenIn?: string;
}

export interface Tally {
  tools: number;
  tokens: number;
}

export interface TargetTools {
  target: string;
  /** False when no session has listed the target's tools yet (nothing cached). */
  listed: boolean;
  /** The project folder the cached list came from (null: a server shared globally). */
  project?: string | null;
  /** When the list was cached (ms since the epoch). */
  updatedAt?: number;
  /** Every tool in the server's order. */
  tools: ToolCost[];
  shown: Tally;
  hidden: Tally;
}

export interface ToolsReport {
  targets: TargetTools[];
  /** All targets together (those with a cached list). */
  total: { shown: Tally; hidden: Tally };
  /** The project whose `.claude/msm.json` rules were applied too, if any. */
  project?: string;
  /** How the estimate is made, for a footnote. */
  note: string;
}

/** `reason` in a few words, for a column: `deny "admin_*"`, `not in allow`. */
export function shortReason(hidden: Hidden): string {
  if (hidden.by === "deny") return `deny ${JSON.stringify(hidden.pattern)}`;
  if (hidden.by === "allow") return "not in allow";
  return "rules invalid";
}

/**
 * The tools of an entry's cached `tools/list` pages in the server's order: the first page, then each page its
 * predecessor's `nextCursor` names (pages are kept by cursor, and an object's numeric keys would come first).
 */
export function entryTools(entry: DiscoveryEntry): Record<string, unknown>[] | undefined {
  const pages = entry.lists["tools/list"] as Record<string, { tools?: unknown; nextCursor?: unknown }> | undefined;
  if (!pages) return undefined;
  const order: string[] = [];
  for (let cursor: unknown = ""; typeof cursor === "string" && cursor in pages && !order.includes(cursor); cursor = pages[cursor]?.nextCursor)
    order.push(cursor);
  for (const cursor of Object.keys(pages)) if (!order.includes(cursor)) order.push(cursor);
  return order.flatMap((cursor) => {
    const tools = pages[cursor]?.tools;
    return Array.isArray(tools) ? tools.filter((tool): tool is Record<string, unknown> => !!tool && typeof tool === "object") : [];
  });
}

export function targetTools(target: string, project?: string, configFile = paths.config()): TargetTools {
  const entry = entriesOf(target)[0];
  const tools = entry && entryTools(entry);
  if (!entry || !tools) return { target, listed: false, tools: [], shown: { tools: 0, tokens: 0 }, hidden: { tools: 0, tokens: 0 } };
  const { rules } = rulesFor(target, rawTargetEntry(target, configFile), configFile, project === undefined ? undefined : readProjectFile(project));
  const costs: ToolCost[] = tools.map((tool) => {
    const name = typeof tool.name === "string" ? tool.name : "";
    const hidden = decide(rules, "tools", name);
    return {
      name,
      tokens: toolTokens(tool),
      ...(hidden ? { hidden: shortReason(hidden), ...(hidden.by === "broken" ? {} : { hiddenIn: hidden.file }) } : {}),
    };
  });
  const tally = (list: ToolCost[]): Tally => ({ tools: list.length, tokens: list.reduce((sum, tool) => sum + tool.tokens, 0) });
  return {
    target,
    listed: true,
    project: entry.project ?? null,
    updatedAt: entry.updatedAt,
    tools: costs,
    shown: tally(costs.filter((tool) => !tool.hidden)),
    hidden: tally(costs.filter((tool) => tool.hidden)),
  };
}

export function toolsReport(targets: string[], project?: string, configFile = paths.config()): ToolsReport {
  const rows = targets.map((target) => targetTools(target, project, configFile));
  const sum = (key: "shown" | "hidden"): Tally => ({
    tools: rows.reduce((total, row) => total + row[key].tools, 0),
    tokens: rows.reduce((total, row) => total + row[key].tokens, 0),
  });
  return { targets: rows, total: { shown: sum("shown"), hidden: sum("hidden") }, ...(project ? { project } : {}), note: ESTIMATE_NOTE };
}
