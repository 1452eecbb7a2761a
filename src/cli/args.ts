import type { ArgDef, ArgsDef, CommandDef, Resolvable } from "citty";
import { MsmError } from "../lib/errors.ts";

/**
 * The command line checked the way gh and docker check it, for every command in one place (main.ts), so a command
 * added to the lazy map gets it without doing anything: an unknown flag, a flag without its value, a value an `enum`
 * flag does not list, a value given to a boolean, a stray argument or an unknown subcommand is a usage error (exit 2)
 * naming the nearest valid spelling. citty itself accepts any flag silently. For commands that write a user's editor
 * config a typo must stop the run, so nothing they parse may slip past this.
 */

/** A command line that cannot be run; `path` names the command whose --help to point at. */
export class UsageError extends MsmError {
  constructor(
    message: string,
    readonly path: string[],
  ) {
    super("USAGE", message);
  }
}

export interface Resolved {
  /** Command names from the root, e.g. ["msm", "memory", "export"]. */
  path: string[];
  cmd: CommandDef;
}

const resolveValue = async <T>(value: Resolvable<T> | undefined): Promise<T | undefined> =>
  typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;

export const HELP_FLAGS = ["--help", "-h"];

/** Positionals that take any number of values (`msm install cursor codex`): read them from citty's `args._`. */
const VARIADIC = new WeakSet<ArgDef>();

export function many<T extends ArgDef>(def: T): T {
  VARIADIC.add(def);
  return def;
}

export const isMany = (def: ArgDef): boolean => VARIADIC.has(def);

/** Flags that take a value. */
const takesValue = (def: ArgDef | undefined): boolean => def?.type === "string" || def?.type === "enum";

/**
 * Every value of a flag given several times, in order (`--target a --target=b`): citty keeps only the last. `alias`
 * is its one-letter form. Stops at "--", as the check does.
 */
export function flagValues(rawArgs: string[], name: string, alias?: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if ((arg === `--${name}` || (alias && arg === `-${alias}`)) && i + 1 < rawArgs.length) values.push(rawArgs[++i]!);
    else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
  }
  return values;
}

/**
 * Finds the command `argv` names, the way citty will run it: the first argument that is not a flag (or a flag's
 * value) names a subcommand. With `check`, every flag on the way is validated against the command it belongs to,
 * and a command with a default subcommand is followed into it (that is the one whose flags apply).
 */
export async function resolveCommand(root: CommandDef, argv: string[], check: boolean): Promise<Resolved> {
  let cmd = root;
  const path = [(await resolveValue(root.meta))?.name ?? "msm"];
  let rest = argv;
  for (;;) {
    const subCommands = await resolveValue(cmd.subCommands);
    const argsDef = (await resolveValue(cmd.args)) ?? {};
    if (!subCommands || Object.keys(subCommands).length === 0) break;
    const index = subCommandIndex(rest, argsDef);
    if (index < 0) {
      const fallback = await resolveValue(cmd.default);
      if (!check || !fallback || !subCommands[fallback]) break;
      // Named as the parent in messages: `msm memory --bogus` is about "msm memory".
      cmd = (await resolveValue(subCommands[fallback]))!;
      continue;
    }
    const name = rest[index]!;
    if (!subCommands[name]) {
      if (!check) break;
      throw new UsageError(`unknown command "${name}" for "${path.join(" ")}".${suggestion(name, Object.keys(subCommands))}`, path);
    }
    if (check) checkArgs(argsDef, rest.slice(0, index), path, false);
    cmd = (await resolveValue(subCommands[name]))!;
    path.push(name);
    rest = rest.slice(index + 1);
  }
  if (check) checkArgs((await resolveValue(cmd.args)) ?? {}, rest, path, true);
  return { path, cmd };
}

/** Index of the subcommand name in `args`, skipping flags and the values of string flags; -1 when there is none. */
function subCommandIndex(args: string[], argsDef: ArgsDef): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return -1;
    if (arg.startsWith("-")) {
      const def = findFlag(argsDef, arg);
      if (takesValue(def) && !arg.includes("=")) i++;
      continue;
    }
    return i;
  }
  return -1;
}

function findFlag(argsDef: ArgsDef, flag: string): ArgDef | undefined {
  const long = flag.startsWith("--");
  const name = flag.replace(/^--?/, "").split("=")[0]!;
  for (const [key, def] of Object.entries(argsDef)) {
    if (def.type === "positional") continue;
    if (long && (key === name || kebab(key) === name)) return def;
    const aliases = "alias" in def && def.alias !== undefined ? [def.alias].flat() : [];
    if (aliases.includes(name)) return def;
  }
  return undefined;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function checkArgs(argsDef: ArgsDef, args: string[], path: string[], leaf: boolean): void {
  const where = path.join(" ");
  let positionals = 0;
  let extra: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    // Everything after "--" is passed through as is (a command line to run, say): not ours to check.
    if (arg === "--") break;
    if (HELP_FLAGS.includes(arg)) continue;
    if (!arg.startsWith("-") || arg === "-") {
      positionals++;
      if (positionals > positionalCount(argsDef)) extra ??= arg;
      continue;
    }
    const name = arg.split("=")[0]!;
    const def = findFlag(argsDef, arg);
    // citty reads --no-NAME as NAME=false for a boolean.
    if (!def && name.startsWith("--no-")) {
      const negated = findFlag(argsDef, `--${name.slice(5)}`);
      if (negated?.type === "boolean") continue;
    }
    if (!def) throw new UsageError(`unknown flag ${name} for "${where}".${suggestion(name, flagNames(argsDef))}`, path);
    const inline = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : undefined;
    if (def.type === "boolean" && inline !== undefined) throw new UsageError(`flag ${name} takes no value.`, path);
    if (!takesValue(def)) continue;
    let value = inline;
    if (value === undefined) {
      value = args[++i];
      // `--scope --dry-run`: the next flag is not the value ("-" alone is: stdin or stdout).
      if (value === undefined || (value.startsWith("-") && value !== "-")) throw new UsageError(`flag ${name} needs a value.`, path);
    }
    const options = def.type === "enum" ? (def.options ?? []) : [];
    if (options.length && !options.includes(value)) throw new UsageError(`flag ${name} must be one of ${options.join(", ")}, not "${value}".`, path);
  }
  if (leaf && extra !== undefined) {
    const allowed = positionalCount(argsDef);
    throw new UsageError(`unexpected argument "${extra}" for "${where}" (it takes ${allowed === 0 ? "no arguments" : `at most ${allowed}`}).`, path);
  }
}

function positionalCount(argsDef: ArgsDef): number {
  const positionals = Object.values(argsDef).filter((def) => def.type === "positional");
  return positionals.some(isMany) ? Infinity : positionals.length;
}

function flagNames(argsDef: ArgsDef): string[] {
  const names = ["--help"];
  for (const [key, def] of Object.entries(argsDef)) if (def.type !== "positional") names.push(`--${kebab(key)}`);
  return names;
}

/** " Did you mean …?" for the closest candidate (edit distance ≤ 2, or a prefix), else "". */
export function suggestion(input: string, candidates: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = candidate.startsWith(input) && input.replace(/^-+/, "").length >= 2 ? 1 : editDistance(input, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= 2 ? ` Did you mean ${best}?` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
