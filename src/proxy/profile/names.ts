import { createHash } from "node:crypto";

/**
 * The names a profile shows its tools and prompts by (docs/profiles.md "Names"): `target__tool`, with the profile's
 * separator. Clients limit tool names: Claude Code and the Anthropic API accept `^[a-zA-Z0-9_-]{1,64}$`, and OpenAI's
 * the same. A name that would break that rule (too long, or a `.` or `/` from a target or tool name) is shortened:
 * other characters become `_`, the text is cut to 55 characters, and `_` plus 8 hex digits of the SHA-256 of the
 * full name are added — the same name every time, on every machine, and two names that read alike after the cut
 * still differ.
 */
export const NAME_LIMIT = 64;
const CLIENT_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HASH_LENGTH = 8;

export function exposedName(target: string, name: string, separator: string): string {
  const full = `${target}${separator}${name}`;
  if (CLIENT_NAME.test(full)) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, HASH_LENGTH);
  return `${full.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, NAME_LIMIT - HASH_LENGTH - 1)}_${hash}`;
}

/** Where one shown name leads: its target, and the name that target knows it by. */
export interface Origin {
  target: string;
  name: string;
}

/**
 * Shown names → their origin, for one kind (tools or prompts), learned from the lists the targets gave. A name never
 * listed is still routed when it starts with a target's name and the separator (the longest such target wins), so
 * a call of a tool the server does not have reaches that server, which answers it as it would directly.
 */
export class NameTable {
  private readonly known = new Map<string, Origin>();

  constructor(
    private readonly targets: readonly string[],
    private readonly separator: string,
  ) {}

  /** The shown name of `name` of `target`, remembered for routing. A clash with another origin keeps the first. */
  add(target: string, name: string): string | undefined {
    const shown = exposedName(target, name, this.separator);
    const had = this.known.get(shown);
    if (had && (had.target !== target || had.name !== name)) return undefined;
    this.known.set(shown, { target, name });
    return shown;
  }

  resolve(shown: string): Origin | undefined {
    const known = this.known.get(shown);
    if (known) return known;
    let best: string | undefined;
    for (const target of this.targets) {
      if (shown.startsWith(target + this.separator) && (!best || target.length > best.length)) best = target;
    }
    return best === undefined ? undefined : { target: best, name: shown.slice(best.length + this.separator.length) };
  }
}
