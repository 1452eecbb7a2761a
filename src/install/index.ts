/**
 * `msm install`, `msm import`, `msm uninstall`: choose the clients and files, run the pure edits of edit.ts through
 * the safe writer, keep MSM_HOME/installs.json in step, and say what happened.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { BUILTIN_TARGETS } from "../lib/config.ts";
import { MsmError, UsageError, isMsmError } from "../lib/errors.ts";
import { ensureHome, paths, tilde, userHome } from "../lib/paths.ts";
import { redactor } from "../lib/secrets/resolve.ts";
import { spotOf, type EditorClient, type Place, type Scope, type Spot } from "./client.ts";
import { CLIENTS, CLIENT_NAMES, clientNamed } from "./clients/index.ts";
import { unifiedDiff } from "./diff.ts";
import { hiddenSecrets, importEdit, installEdit, revealSecrets, uninstallEdit, type ImportContext, type Outcome } from "./edit.ts";
import { launcher } from "./entries.ts";
import { backupPath, editFile, realPath, removeEmptyDir, snapshot, type WriteOptions } from "./file.ts";
import { FormatError } from "./formats/format.ts";
import { jsonc } from "./formats/jsonc.ts";
import { loadState, saveState, type FileRecord, type State } from "./state.ts";

// The folder's public face: what commands use, from wherever it lives in install/.
export { SCOPES, type Place, type Scope } from "./client.ts";
export { CLIENT_NAMES, clientNamed } from "./clients/index.ts";
export { launcher, proxyEntry } from "./entries.ts";
export { snippet } from "./snippet.ts";
export { installChecks } from "./checks.ts";

export function currentPlace(): Place {
  return { home: userHome(), cwd: process.cwd(), env: process.env, platform: process.platform };
}

/** The clients named, or with none named, every client used on this machine (its config folder or file exists). */
export function chooseClients(names: string[], scope: Scope, place: Place): EditorClient[] {
  for (const name of names) {
    if (!clientNamed(name)) throw new UsageError(`Unknown client "${name}". Clients: ${CLIENT_NAMES.join(", ")}.`);
  }
  if (names.length) {
    const chosen = names.map((n) => clientNamed(n)!);
    const without = chosen.find((c) => !c.file(scope, place));
    if (without) throw new UsageError(`${without.label} has no ${scope} scope. Run it with --scope user.`);
    return chosen;
  }
  return CLIENTS.filter((c) => {
    const file = c.file(scope, place);
    const user = c.file("user", place);
    return file && (existsSync(file) || existsSync(c.marker(place)) || (user !== undefined && existsSync(user)));
  });
}

export interface RunOptions {
  scope: Scope;
  dryRun: boolean;
  place?: Place;
  write?: Partial<WriteOptions>;
  /** Where reports go (stdout by default). */
  print?: (line: string) => void;
}

export interface FileReport {
  client: string;
  file: string;
  changed: boolean;
  notes: string[];
  clashes: string[];
  diff: string;
  /** The backup made by this run, if any. */
  backup?: string;
  /** Why this file was left as it was. */
  error?: string;
}

/**
 * Runs one file's work; a file msm cannot read or edit safely is reported and left alone, and the other files still
 * get done (the command then exits 1).
 */
function guarded(spot: Spot, work: () => FileReport[]): FileReport[] {
  try {
    return work();
  } catch (error) {
    if (!(error instanceof FormatError) && !isMsmError(error)) throw error;
    return [
      {
        client: spot.client.name,
        file: spot.file,
        changed: false,
        notes: [],
        clashes: [],
        diff: "",
        error: `${error.message.replace(/\.$/, "")}. It was left as it was.`,
      },
    ];
  }
}

/** installs.json keys: the real file, plus where in it when that is not the client's usual place (local scope). */
function recordKey(spot: Spot): string {
  const real = realPath(spot.file);
  return spot.container.join("\0") === spot.client.container.join("\0") ? real : `${real}#${spot.container.join("/")}`;
}

/** One client file through one edit: dry run (diff only) or the safe write, then the record saved. */
function applyToFile(spot: Spot, state: State, options: RunOptions, edit: (text: string, exists: boolean, record: FileRecord) => Outcome): FileReport {
  const { client, scope, file } = spot;
  const key = recordKey(spot);
  const record: FileRecord = state.files[key] ?? { client: client.name, scope, entries: [] };
  const run = (text: string, exists: boolean) => {
    const outcome = edit(text, exists, record);
    // A file msm created goes again with msm's last entry.
    const gone = Boolean(outcome.record.createdFile) && outcome.record.entries.length === 0 && outcome.text.trim() === "";
    return { text: gone ? null : outcome.text, result: outcome };
  };
  if (options.dryRun) {
    const before = snapshot(file);
    const { text, result } = run(before.text, before.exists);
    const diff = text === null ? (before.exists ? unifiedDiff(before.text, "", tilde(file)) : "") : unifiedDiff(before.text, text, tilde(file));
    return { client: client.name, file, changed: diff !== "", notes: result.notes, clashes: result.clashes, diff };
  }
  const newMode = scope === "project" ? 0o644 : 0o600;
  // A folder msm creates for a new file (.cursor/, .vscode/, .codex/) goes again with that file.
  if (!record.entries.length && !existsSync(dirname(realPath(file)))) record.createdDir = true;
  const done = editFile(file, run, { newMode, backup: !record.createdFile, ...options.write });
  if (done.after === null && done.changed && done.result.record.createdDir) removeEmptyDir(dirname(done.before.real));
  state.files[key] = done.result.record;
  const backup = done.backedUp ? backupPath(done.before.real) : undefined;
  return { client: client.name, file, changed: done.changed, notes: done.result.notes, clashes: done.result.clashes, diff: "", backup };
}

function print(reports: FileReport[], options: RunOptions, clients: EditorClient[]): void {
  const out = options.print ?? ((line: string) => process.stdout.write(line + "\n"));
  for (const report of reports) {
    const client = clients.find((c) => c.name === report.client);
    out(`${client?.label ?? "msm config"} · ${tilde(report.file)}${options.dryRun ? " (dry run)" : report.changed || report.error ? "" : " (no change)"}`);
    for (const note of report.notes) out(`  ${note}`);
    if (report.error) out(`  error: ${report.error}`);
    if (options.dryRun && report.diff) out(report.diff.trimEnd());
    if (!options.dryRun && report.changed) {
      if (report.backup) out(`  backup of the original: ${tilde(report.backup)}`);
      if (client?.after) out(`  then: ${client.after}`);
    }
  }
}

export interface InstallOptions extends RunOptions {
  clients: string[];
  targets: string[];
  /** One `msm proxy --profile NAME` entry instead of one per target (docs/profiles.md). */
  profile?: string;
  command?: string;
}

/** `msm install`: one `msm proxy --target NAME` entry per target in each client's file, or one for a profile. */
export function install(options: InstallOptions): FileReport[] {
  const place = options.place ?? currentPlace();
  if (options.profile !== undefined && options.targets.length) throw new UsageError("msm install takes --target or --profile, not both.");
  const known = configuredTargets();
  const profile = options.profile === undefined ? undefined : configuredProfile(options.profile);
  const targets = profile ? [profile.name] : options.targets.length ? options.targets : known;
  const unknown = profile ? undefined : targets.find((name) => !known.includes(name));
  if (unknown) {
    throw new MsmError(
      "UNKNOWN_TARGET",
      `Unknown target "${unknown}". Known targets: ${known.join(", ")}. Add it under "targets" in ${paths.config()}, or run "msm import CLIENT".`,
    );
  }
  const clients = chooseClients(options.clients, options.scope, place);
  if (clients.length === 0) {
    throw new MsmError("INSTALL_FAILED", `No editor found on this machine. Name one: msm install ${CLIENT_NAMES.join("|")}.`);
  }
  const how = launcher(options.command);
  const state = loadState();
  const reports = clients.flatMap((client) => {
    const spot = spotOf(client, options.scope, place)!;
    return guarded(spot, () => [
      applyToFile(spot, state, options, (text, exists, record) =>
        installEdit(spot, text, exists, record, targets, how, profile ? "profile" : "target", profile?.targets),
      ),
    ]);
  });
  if (!options.dryRun) saveState(state);
  print(reports, options, clients);
  return reports;
}

/**
 * Target names from config.json, read as plain JSON: which fields a target may have is the config schema's business
 * (and `msm doctor` checks it); an entry only needs the name.
 */
function configuredTargets(): string[] {
  const file = paths.config();
  const targets = Object.keys(jsonc.entries(snapshot(file).text, ["targets"], file));
  return [...BUILTIN_TARGETS, ...targets.filter((n) => !(BUILTIN_TARGETS as readonly string[]).includes(n))];
}

/**
 * A profile in config.json, read as plain JSON like the targets (its shape is `msm doctor`'s business): its name and
 * the targets it names, or an error naming the profiles there are.
 */
export function configuredProfile(name: string): { name: string; targets: string[] } {
  const file = paths.config();
  const profiles = jsonc.entries(snapshot(file).text, ["profiles"], file);
  const entry = profiles[name];
  if (!entry || typeof entry !== "object") {
    const known = Object.keys(profiles);
    throw new MsmError(
      "UNKNOWN_PROFILE",
      `Unknown profile "${name}". ${known.length ? `Profiles: ${known.join(", ")}.` : "No profile is configured."} Add it under "profiles" in ${file} (docs/profiles.md).`,
    );
  }
  const targets = (entry as { targets?: unknown }).targets;
  return { name, targets: Array.isArray(targets) ? targets.filter((t): t is string => typeof t === "string") : [] };
}

export interface UninstallOptions extends RunOptions {
  clients: string[];
}

/** `msm uninstall`: msm's entries removed and every entry `import` replaced put back, byte for byte. */
export async function uninstall(options: UninstallOptions): Promise<FileReport[]> {
  const place = options.place ?? currentPlace();
  const state = loadState();
  const { values, warnings } = await keptSecrets(state);
  const clients = options.clients.length
    ? chooseClients(options.clients, options.scope, place)
    : CLIENTS.filter((c) => {
        const file = c.file(options.scope, place);
        return file !== undefined && existsSync(file);
      });
  const mask = redactor([...values.values()]);
  const reports = clients.flatMap((client) => {
    const spot = spotOf(client, options.scope, place)!;
    return guarded(spot, () => [applyToFile(spot, state, options, (text, _exists, record) => uninstallEdit(spot, text, revealed(record, values)))]);
  });
  for (const report of reports) report.diff = mask(report.diff);
  if (!options.dryRun) saveState(state);
  print(reports, options, clients);
  for (const warning of warnings) (options.print ?? ((line: string) => process.stdout.write(line + "\n")))(warning);
  if (reports.length === 0)
    (options.print ?? ((line: string) => process.stdout.write(line + "\n")))(`No ${options.scope}-scope editor config found; nothing to do.`);
  return reports;
}

export interface ImportOptions extends RunOptions {
  /** Clients to import from; none = every client found on this machine. */
  clients: string[];
  share: string;
}

/** `msm import [CLIENT…]`: each client in turn, so a server found in two editors becomes one shared target. */
export async function importServers(options: ImportOptions): Promise<FileReport[]> {
  const place = options.place ?? currentPlace();
  const clients = chooseClients(options.clients, options.scope, place).filter((c) => existsSync(c.file(options.scope, place)!));
  if (clients.length === 0) {
    const where = options.clients.length ? options.clients.join(", ") : "any editor";
    throw new MsmError("INSTALL_FAILED", `No ${options.scope}-scope MCP config of ${where} found to import from. See "msm import --help".`);
  }
  const reports: FileReport[] = [];
  for (const client of clients) {
    const spot = spotOf(client, options.scope, place)!;
    const baseDir = options.scope === "user" ? place.home : place.cwd;
    reports.push(...(await guardedAsync(spot, () => importFrom(spot, options, baseDir))));
  }
  print(reports, options, clients);
  const changed = reports.filter((r) => r.changed && r.client !== "msm").map((r) => r.client);
  if (!options.dryRun && changed.length) {
    const scope = options.scope === "user" ? "" : ` --scope ${options.scope}`;
    (options.print ?? ((line: string) => process.stdout.write(line + "\n")))(
      `Every imported server is now shared through msm; "msm uninstall ${changed.join(" ")}${scope}" puts the original entries back.`,
    );
  }
  return reports;
}

/** guarded() for work that waits (the keychain). */
async function guardedAsync(spot: Spot, work: () => Promise<FileReport[]>): Promise<FileReport[]> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof FormatError) && !isMsmError(error)) throw error;
    return guarded(spot, () => {
      throw error;
    });
  }
}

/**
 * `msm import CLIENT`: every stdio server of the client's file becomes an msm target (config.json first, so an entry
 * never names a target that is not there yet), then its entry becomes msm's proxy entry. A secret an entry holds in
 * clear goes to the keychain before anything is written, and config.json gets a reference in its place; with no
 * keychain such an entry is not imported.
 */
async function importFrom(spot: Spot, options: ImportOptions, baseDir: string): Promise<FileReport[]> {
  const client = spot.client;
  const configFile = paths.config();
  const raw = jsonc.entries(snapshot(configFile).text, ["targets"], configFile);
  const how = launcher();
  const state = loadState();
  const file = spot.file;
  const record = state.files[recordKey(spot)] ?? { client: client.name, scope: options.scope, entries: [] };
  // Plan against the current text to learn which targets to add; the file edit below redoes it on fresh text.
  const reserved = [...BUILTIN_TARGETS];
  const context: ImportContext = { keychain: true, baseDir };
  let plan = importEdit(spot, snapshot(file).text, record, raw, reserved, options.share, how, undefined, context);
  if (plan.moves.length) {
    // Secrets in clear: only with a keychain that answers. Otherwise their entries stay where they are.
    const problem = await keychainProblem();
    if (problem) {
      context.keychain = problem;
      plan = importEdit(spot, snapshot(file).text, record, raw, reserved, options.share, how, undefined, context);
    } else if (!options.dryRun) {
      const { setSecret } = await import("../lib/secrets/keychain.ts");
      for (const move of plan.moves) await setSecret(move.secret, move.value);
    }
  }
  // A diff shows the editor's entries going: the secrets they held are masked in it.
  const mask = redactor(plan.moves.map((m) => m.value));
  const reports: FileReport[] = [];
  const added = Object.entries(plan.targets);
  if (added.length) reports.push(addTargets(configFile, added, options));
  // The file may change before the write (the editor rewrote it): redo only what the plan put in config.json.
  const known = { ...raw, ...plan.targets };
  const report = applyToFile(spot, state, options, (text, _exists, rec) =>
    importEdit(spot, text, rec, known, reserved, options.share, how, plan.imported, context),
  );
  reports.push({ ...report, diff: mask(report.diff), notes: plan.notes, clashes: plan.clashes });
  if (!options.dryRun) saveState(state);
  return reports;
}

/**
 * The originals `import` kept hold marks where their secrets were (they went to the keychain): their values, read
 * back so uninstall restores each entry as it was. A secret the keychain no longer has is restored as its
 * `${secret:NAME}` reference, with a warning.
 */
async function keptSecrets(state: State): Promise<{ values: Map<string, string>; warnings: string[] }> {
  const values = new Map<string, string>();
  const warnings: string[] = [];
  const names = new Set(Object.values(state.files).flatMap((f) => f.entries.flatMap((e) => (e.replaced ? hiddenSecrets(e.replaced) : []))));
  if (!names.size) return { values, warnings };
  const { getSecret } = await import("../lib/secrets/keychain.ts");
  for (const name of names) {
    try {
      const value = await getSecret(name);
      if (value !== undefined) values.set(name, value);
      else warnings.push(`The keychain has no "${name}" any more: the restored entry says \${secret:${name}} in its place; put the value back by hand.`);
    } catch (error) {
      warnings.push(`"${name}" could not be read (${(error as Error).message}): the restored entry says \${secret:${name}} in its place.`);
    }
  }
  return { values, warnings };
}

/**
 * A record with its kept originals' secrets filled in, for the edit only: what the edit leaves of the record (saved
 * to installs.json) never holds them.
 */
function revealed(record: FileRecord, values: Map<string, string>): FileRecord {
  const fill = (text: string) => revealSecrets(text, (name) => values.get(name) ?? `\${secret:${name}}`);
  return { ...record, entries: record.entries.map((e) => (e.replaced ? { ...e, replaced: fill(e.replaced) } : e)) };
}

/** Why the keychain cannot take secrets right now, or undefined when it answers. */
async function keychainProblem(): Promise<string | undefined> {
  const { getSecret, KeychainUnavailable } = await import("../lib/secrets/keychain.ts");
  try {
    await getSecret("msm-import-check");
    return undefined;
  } catch (error) {
    return error instanceof KeychainUnavailable ? `the keychain cannot be used: ${error.said}` : (error as Error).message;
  }
}

/** Adds hosted targets to config.json, keeping every other key and its layout; the file stays private (0600). */
function addTargets(configFile: string, added: [string, object][], options: RunOptions): FileReport {
  const notes = added.map(([name]) => `added target ${name}`);
  const edit = (text: string) => {
    let next = text;
    for (const [name, target] of added) {
      const present = jsonc.entries(next, ["targets"], configFile);
      if (!(name in present)) next = jsonc.add(next, ["targets"], name, target as Record<string, unknown>, configFile).text;
    }
    return { text: next, result: undefined };
  };
  if (options.dryRun) {
    const before = snapshot(configFile);
    return { client: "msm", file: configFile, changed: true, notes, clashes: [], diff: unifiedDiff(before.text, edit(before.text).text, tilde(configFile)) };
  }
  ensureHome();
  const done = editFile(configFile, edit, { newMode: 0o600, mode: 0o600, ...options.write });
  return { client: "msm", file: configFile, changed: done.changed, notes, clashes: [], diff: "" };
}
