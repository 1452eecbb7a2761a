import { UsageError } from "../lib/errors.ts";

export interface FlagSpec {
  /** Flags taking a value (`--scope user`, `--scope=user`). */
  values?: string[];
  /** Flags that may repeat, collected in order (also comma-separated). */
  lists?: string[];
  booleans?: string[];
  /** Allowed values per value flag. */
  choices?: Record<string, readonly string[]>;
}

export interface Parsed {
  positionals: string[];
  values: Record<string, string>;
  lists: Record<string, string[]>;
  booleans: Record<string, boolean>;
}

/**
 * Parses a command's raw arguments and rejects what it does not know. citty ignores unknown flags and keeps only
 * the last of a repeated one; for commands that write a user's editor config, a typo must stop the run instead.
 */
export function strictArgs(command: string, raw: string[], spec: FlagSpec): Parsed {
  const out: Parsed = { positionals: [], values: {}, lists: {}, booleans: {} };
  for (const name of spec.lists ?? []) out.lists[name] = [];
  const usage = (message: string) => new UsageError(`${message} (msm ${command})`);
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i]!;
    if (arg === "--") {
      out.positionals.push(...raw.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.replace(/^--?/, "").slice(0, eq < 0 ? undefined : eq - (arg.startsWith("--") ? 2 : 1));
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (spec.booleans?.includes(name)) {
      if (inline !== undefined) throw usage(`--${name} takes no value`);
      out.booleans[name] = true;
    } else if (spec.values?.includes(name) || spec.lists?.includes(name)) {
      const value = inline ?? raw[++i];
      if (value === undefined || (inline === undefined && value.startsWith("-"))) throw usage(`--${name} needs a value`);
      const allowed = spec.choices?.[name];
      if (allowed && !allowed.includes(value)) throw usage(`--${name} must be one of ${allowed.join(", ")}, not "${value}"`);
      if (spec.lists?.includes(name)) out.lists[name]!.push(...value.split(",").filter(Boolean));
      else out.values[name] = value;
    } else {
      throw usage(`Unknown option ${arg.split("=")[0]}`);
    }
  }
  return out;
}
