/**
 * The three edits, as pure functions of a file's text and msm's record of it: install adds or updates msm's entries,
 * import swaps stdio servers for msm's entries (remembering the originals), uninstall undoes both exactly. Pure, so a
 * write that raced another program is simply redone on the fresh text.
 */
import type { Spot } from "./client.ts";
import { classify, clientEntry, extraKeys, msmEntryOf, msmTargetOf, proxyEntry, sameJson, type Launcher, type Move, type ProxiedKind } from "./entries.ts";
import type { EntryRecord, FileRecord } from "./state.ts";

export interface Outcome {
  text: string;
  record: FileRecord;
  /** One line per entry for the person running the command. */
  notes: string[];
  /** Entries that were left alone because they were someone else's. */
  clashes: string[];
}

const clone = (record: FileRecord): FileRecord => ({ ...record, entries: record.entries.map((e) => ({ ...e })) });

/**
 * Adds `msm proxy --target NAME` for each target (or `--profile NAME`, `kind` "profile"), updates msm's own entries,
 * never touches anyone else's. `inProfile`: the targets of the profile being installed, whose own entries in the file
 * would give the editor their tools twice (said, not removed).
 */
export function installEdit(
  { client, file, container }: Spot,
  text: string,
  exists: boolean,
  record: FileRecord,
  targets: string[],
  how: Launcher,
  kind: ProxiedKind = "target",
  inProfile: string[] = [],
): Outcome {
  const out: Outcome = { text, record: clone(record), notes: [], clashes: [] };
  if (!exists && out.record.entries.length === 0) out.record.createdFile = true;
  for (const name of targets) {
    const current = client.format.entries(out.text, container, file);
    const wanted = clientEntry(client, proxyEntry(how, name, kind));
    const existing = current[name];
    const mine = out.record.entries.find((e) => e.name === name);
    const proxied = msmEntryOf(existing);
    if (existing === undefined) {
      // Recorded but gone: the user removed it by hand; forget that and add it again.
      if (mine) out.record.entries = out.record.entries.filter((e) => e !== mine);
      const added = client.format.add(out.text, container, name, wanted, file);
      out.text = added.text;
      out.record.entries.push({ name, added: added.undo });
      out.notes.push(`added ${name}`);
    } else if (proxied?.kind === kind && proxied.name === name) {
      // Keys msm does not write (a timeout, a tool filter) stay as the user or `import` set them.
      const updated = { ...wanted, ...extraKeys(existing as object) };
      if (sameJson(existing, updated)) out.notes.push(`${name} already set`);
      else {
        out.text = client.format.replace(out.text, container, name, updated);
        out.notes.push(`updated ${name}`);
      }
    } else {
      out.clashes.push(name);
      const official = name === "memory" && JSON.stringify(existing).includes("server-memory");
      const hint = official
        ? `msm's memory is a drop-in for it: move its graph with "msm memory import FILE", remove the entry, then install again`
        : `run "msm import ${client.name}" to move it behind msm`;
      out.notes.push(`${name} is already there and is not msm's: left alone (${hint})`);
    }
  }
  const current = client.format.entries(out.text, container, file);
  for (const target of inProfile) {
    if (msmTargetOf(current[target]) !== target) continue;
    out.notes.push(`${target} also has an entry of its own here: the editor will list its tools twice (remove that entry to use only the profile)`);
  }
  return out;
}

export interface ImportPlan {
  /** Targets to add to config.json. */
  targets: Record<string, { command: string; args: string[]; env?: Record<string, string>; cwd?: string; envFile?: string; share: string }>;
  /** Entries replaced by msm's. */
  imported: string[];
  /** Secrets the entries held in clear, for the keychain (config.json gets `${secret:NAME}` in their place). */
  moves: Move[];
}

/** What classify needs beyond the entry: whether a keychain can take clear secrets, where a relative envFile is. */
export interface ImportContext {
  keychain?: true | string;
  baseDir?: string;
}

/**
 * Replaces every stdio server (of `only`, when given) with msm's entry for a target of the same name. `known` are
 * config.json's targets; a name already taken by a different server is a clash, reported and left alone.
 */
export function importEdit(
  { client, file, container }: Spot,
  text: string,
  record: FileRecord,
  known: Record<string, unknown>,
  reserved: readonly string[],
  share: string,
  how: Launcher,
  only?: readonly string[],
  context: ImportContext = {},
): Outcome & ImportPlan {
  const out: Outcome & ImportPlan = { text, record: clone(record), notes: [], clashes: [], targets: {}, imported: [], moves: [] };
  const entries = client.format.entries(text, container, file);
  for (const [name, entry] of Object.entries(entries)) {
    if (msmEntryOf(entry) !== undefined || (only && !only.includes(name))) continue;
    const sorted = classify(entry, client.projectVariable, { name, variables: client.variables, ...context });
    if (sorted.kind === "remote") {
      out.notes.push(`${name}: a URL server, left as it is`);
      continue;
    }
    if (sorted.kind === "skip") {
      out.notes.push(`${name}: not imported, ${sorted.reason}`);
      continue;
    }
    if (share === "global" && JSON.stringify(sorted.server).includes("{project}")) {
      out.notes.push(`${name}: not imported, it uses \${workspaceFolder}, which needs one server per project (not --share global)`);
      continue;
    }
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
      out.notes.push(`${name}: not imported, msm target names use letters, digits, ".", "_" and "-"`);
      continue;
    }
    const { env, ...rest } = sorted.server;
    const target = { ...rest, ...(Object.keys(env).length ? { env } : {}), share };
    const existing = known[name];
    if (reserved.includes(name) || (existing !== undefined && !sameServer(existing, target))) {
      out.clashes.push(name);
      out.notes.push(`${name}: not imported, msm already has a different target "${name}" (rename one of them, then run import again)`);
      continue;
    }
    if (existing === undefined) out.targets[name] = target;
    const original = client.format.entryText(out.text, container, name);
    if (original === undefined) {
      out.notes.push(`${name}: not imported, it is not written as its own table; move it to [${[...container, name].join(".")}] first`);
      continue;
    }
    out.text = client.format.replace(out.text, container, name, clientEntry(client, proxyEntry(how, name), sorted.extra));
    out.record.entries = out.record.entries.filter((e) => e.name !== name);
    // installs.json keeps the original for `uninstall`, but not the secrets that went to the keychain: in their place
    // a mark that uninstall fills in from the keychain again.
    out.record.entries.push({ name, replaced: hideSecrets(original, sorted.moves) });
    out.imported.push(name);
    out.notes.push(`${name}: now served by msm${existing === undefined ? " (new target)" : " (same server as the existing target)"}`);
    for (const move of sorted.moves) {
      out.moves.push(move);
      out.notes.push(`${name}: ${move.where} held a secret in clear: it goes to the keychain as "${move.secret}", config.json says \${secret:${move.secret}}`);
    }
    if (share === "global" && JSON.stringify(sorted.server).match(/\$\{[A-Za-z_]/)) {
      out.notes.push(`${name}: with --share global its \${VAR} references are read from msm's base environment, not a session's (docs/configuration.md)`);
    }
  }
  return out;
}

/** A server already in config.json is the same one when it starts the same way. */
function sameServer(existing: unknown, wanted: { command: string; args: string[]; env?: Record<string, string>; cwd?: string; envFile?: string }): boolean {
  if (!existing || typeof existing !== "object") return false;
  const e = existing as Record<string, unknown>;
  return (
    e.command === wanted.command &&
    sameJson(e.args ?? [], wanted.args) &&
    sameJson(e.env ?? {}, wanted.env ?? {}) &&
    e.cwd === wanted.cwd &&
    e.envFile === wanted.envFile &&
    e.transport === undefined
  );
}

/**
 * Undoes msm's edits in reverse order: added entries removed, replaced ones restored from their original text, and
 * any other msm entry (its record lost) removed. Entries someone changed since are left alone and reported.
 */
export function uninstallEdit(spot: Spot, text: string, record: FileRecord): Outcome {
  const { client, file, container } = spot;
  const out: Outcome = { text, record: { ...record, entries: [] }, notes: [], clashes: [] };
  const done = new Set<string>();
  for (const entry of [...record.entries].reverse()) {
    done.add(entry.name);
    const current = client.format.entries(out.text, container, file)[entry.name];
    if (current === undefined) continue;
    if (msmEntryOf(current) === undefined) {
      out.notes.push(`${entry.name}: changed by someone else since msm wrote it, left alone`);
      continue;
    }
    out.text = undo(spot, out.text, entry);
    out.notes.push(entry.replaced !== undefined ? `${entry.name}: original entry restored` : `removed ${entry.name}`);
  }
  const current = client.format.entries(out.text, container, file);
  for (const [name, value] of Object.entries(current)) {
    if (done.has(name) || msmEntryOf(value) === undefined) continue;
    out.text = client.format.remove(out.text, container, name, {});
    out.notes.push(`removed ${name}`);
  }
  return out;
}

function undo({ client, container }: Spot, text: string, entry: EntryRecord): string {
  if (entry.replaced !== undefined) return client.format.restore(text, container, entry.name, entry.replaced);
  return client.format.remove(text, container, entry.name, entry.added ?? {});
}

/** Where a secret moved to the keychain was in an original entry kept for uninstall: `\0msm-secret:NAME\0`. */
const SECRET_MARK = /\u0000msm-secret:([A-Za-z0-9._-]+)\u0000/g;

function hideSecrets(text: string, moves: readonly Move[]): string {
  let out = text;
  for (const move of moves) out = out.split(move.value).join(`\u0000msm-secret:${move.secret}\u0000`);
  return out;
}

/** The keychain names hidden in a kept original. */
export function hiddenSecrets(text: string): string[] {
  return [...text.matchAll(SECRET_MARK)].map((m) => m[1]!);
}

/** A kept original with its hidden secrets put back (`value` gives each one's value). */
export function revealSecrets(text: string, value: (name: string) => string): string {
  return text.replace(SECRET_MARK, (_, name: string) => value(name));
}
