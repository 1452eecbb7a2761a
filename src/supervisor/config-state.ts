/**
 * The config the supervisor acts on, and what an edit of config.json changes in it (docs/configuration.md "Edits
 * apply live"). Pure: the same config in force and the same reading give the same outcome, so every rule here is
 * unit-tested without a process.
 *
 * - An edit the file as a whole rejects (not JSON, unreadable, an unknown top-level key, owned by someone else)
 *   changes nothing: the last good config stays in force, and the problem is reported until the next good edit.
 * - A broken target entry keeps that target's last good entry in force (a target that never had one is not served);
 *   every other target follows the file.
 * - A target counts as changed when its resolved form differs (defaults applied), not its text: reordering keys or
 *   spelling out a default changes nothing.
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import { configProblems, resolveTarget, targetNames, type Config, type ResolvedTarget, type TargetKind } from "../lib/config.ts";

/** What the supervisor serves: every target it knows, resolved, and the supervisor port the file asked for. */
export interface InForce {
  targets: Map<string, ResolvedTarget>;
  /** `supervisor.port` as the file said when the supervisor started (a change needs `msm restart supervisor`). */
  supervisorPort: number;
}

/** One read of config.json: the config, or why the file was refused outright (CONFIG_UNSAFE). */
export type Reading = { config: Config } | { refused: string };

/** What each new session's proxy reads from the entry itself: `lazy` and the tool rules. */
const SESSION_KEYS = ["lazy", "tools", "prompts", "resources"];

/**
 * Keys of a resolved target whose change needs no restart of its daemon: the supervisor reads them itself (idle
 * stops, how long a start may take, how health is asked), each session's proxy reads `lazy` and the tool rules,
 * and a stdio host is told its children's idle stop, start wait and pool size (HOST_LIVE_KEYS). Every other key restarts a
 * running daemon.
 */
export const LIVE_KEYS: Record<TargetKind, readonly string[]> = {
  builtin: ["daemonIdleMs", ...SESSION_KEYS],
  remote: ["daemonIdleMs", ...SESSION_KEYS],
  external: ["daemonIdleMs", "startTimeoutMs", "health", ...SESSION_KEYS],
  hosted: ["daemonIdleMs", "childIdleMs", "startTimeoutSeconds", "instances", ...SESSION_KEYS],
};

/** The live keys a running stdio host must be told of (lib/contracts/host-api.ts pushHostSettings). */
export const HOST_LIVE_KEYS = ["childIdleMs", "startTimeoutSeconds", "instances"] as const;

export type Change =
  | { kind: "added"; name: string; target: ResolvedTarget }
  | { kind: "removed"; name: string; previous: ResolvedTarget }
  /** `restart`: the keys that need the daemon restarted (empty: `live` keys only, applied where it runs). */
  | { kind: "changed"; name: string; previous: ResolvedTarget; target: ResolvedTarget; restart: string[]; live: string[] };

export interface Outcome {
  inForce: InForce;
  changes: Change[];
  /** What is wrong with the file as read (naming the key and line); empty when it is good. */
  problems: string[];
  /** Broken target entries by name, with their message. */
  broken: Record<string, string>;
  /** The edit as a whole was rejected: the config in force is the last good one, whatever the file says. */
  keptAll: boolean;
  /** Targets whose broken entry left their last good entry in force. */
  kept: string[];
  /** What the file asks that applies only when the supervisor restarts, each saying how. */
  needsRestart: string[];
}

/**
 * The config in force after `reading`. `previous` is undefined at the supervisor's start: then there is no last
 * good config to keep, and whatever of the file is valid applies (memory always does, on its defaults if need be).
 */
export function settle(previous: InForce | undefined, reading: Reading, listening?: number): Outcome {
  const config = "config" in reading ? reading.config : undefined;
  const problems = config ? configProblems(config) : [(reading as { refused: string }).refused];
  const broken = config?.broken ?? {};
  const rejected = !config || config.error !== undefined;
  if (previous && rejected) {
    return { inForce: previous, changes: [], problems, broken, keptAll: true, kept: [], needsRestart: needsRestart(previous, undefined, listening) };
  }
  const targets = new Map<string, ResolvedTarget>();
  const kept: string[] = [];
  const file = config ?? ({ supervisor: { port: 3199 }, targets: {}, broken: {} } satisfies Config);
  for (const name of new Set([...targetNames(file), ...Object.keys(broken)])) {
    const old = previous?.targets.get(name);
    if (name in broken && old) {
      targets.set(name, old);
      kept.push(name);
      continue;
    }
    try {
      targets.set(name, resolveTarget(file, name));
    } catch {}
  }
  const inForce: InForce = { targets, supervisorPort: previous?.supervisorPort ?? file.supervisor.port };
  return {
    inForce,
    changes: previous ? diff(previous.targets, targets) : [],
    problems,
    broken,
    keptAll: false,
    kept,
    needsRestart: needsRestart(inForce, config, listening),
  };
}

/** Added, removed and changed targets between two configs in force, in the new config's order. */
export function diff(before: ReadonlyMap<string, ResolvedTarget>, after: ReadonlyMap<string, ResolvedTarget>): Change[] {
  const changes: Change[] = [];
  for (const [name, target] of after) {
    const previous = before.get(name);
    if (!previous) {
      changes.push({ kind: "added", name, target });
      continue;
    }
    const keys = changedKeys(previous, target);
    if (!keys.length) continue;
    const live = previous.kind === target.kind ? LIVE_KEYS[target.kind] : [];
    changes.push({ kind: "changed", name, previous, target, restart: keys.filter((k) => !live.includes(k)), live: keys.filter((k) => live.includes(k)) });
  }
  for (const [name, previous] of before) if (!after.has(name)) changes.push({ kind: "removed", name, previous });
  return changes;
}

/** The keys whose values differ (compared as canonical JSON, so key order inside env or headers does not count). */
export function changedKeys(a: ResolvedTarget, b: ResolvedTarget): string[] {
  const left = a as unknown as Record<string, unknown>;
  const right = b as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(left), ...Object.keys(right)])].filter((k) => canonicalJson(left[k] ?? null) !== canonicalJson(right[k] ?? null)).sort();
}

/** The supervisor's own settings the file changed since it started: they apply only to a new supervisor. */
function needsRestart(inForce: InForce, config: Config | undefined, listening: number | undefined): string[] {
  if (!config || config.supervisor.port === inForce.supervisorPort) return [];
  const now = listening === undefined ? "" : ` (it listens on ${listening})`;
  return [
    `supervisor.port is now ${config.supervisor.port} in config.json (was ${inForce.supervisorPort}): it applies when the supervisor restarts${now}. Run "msm restart supervisor"; daemons and sessions keep running.`,
  ];
}

/** Names for the keys a person wrote, for log lines ("args, env"); resolved keys map back to config keys. */
export function configKeys(keys: readonly string[]): string {
  const names: Record<string, string> = {
    daemonIdleMs: "daemonIdleMinutes",
    childIdleMs: "childIdleMinutes",
    startTimeoutMs: "startTimeoutSeconds",
    databaseError: "database",
    kind: "kind (command/transport/url)",
  };
  return [...new Set(keys.map((k) => names[k] ?? k))].join(", ");
}
