import type { ArgDef, ArgsDef, CommandDef, CommandMeta, Resolvable } from "citty";
import { isMany } from "./args.ts";
import { paint, wrap } from "./style.ts";

/** Help is laid out for the narrowest common terminal. */
export const USAGE_WIDTH = 80;
/** The name column of option and command lists is at most this wide; a longer name puts its text below it. */
const LABEL_MAX = 26;

const resolveValue = async <T>(value: Resolvable<T> | undefined): Promise<T | undefined> =>
  typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;

/**
 * `msm … --help`: our own renderer rather than citty's, whose lines run to 150 columns and whose colours ignore
 * whether the output is a terminal. Every line fits USAGE_WIDTH; colour only when `color`.
 */
export async function renderUsage(cmd: CommandDef, path: string[], color: boolean, version?: string): Promise<string> {
  const c = (text: string, style: Parameters<typeof paint>[1]) => paint(text, style, color);
  const meta: CommandMeta = (await resolveValue(cmd.meta)) ?? {};
  const args: ArgsDef = (await resolveValue(cmd.args)) ?? {};
  const subCommands = (await resolveValue(cmd.subCommands)) ?? {};
  const hasDefault = Boolean(await resolveValue(cmd.default));
  const name = path.join(" ");
  const out: string[] = [];

  const about = path.length === 1 && version ? `${name} ${version} — ${meta.description ?? ""}` : (meta.description ?? "");
  if (about) out.push(...wrap(about, USAGE_WIDTH), "");

  const positionals = Object.entries(args).filter(([, def]) => def.type === "positional");
  const flags = Object.entries(args).filter(([, def]) => def.type !== "positional");
  const usage = [name];
  if (Object.keys(subCommands).length) usage.push(hasDefault ? "[command]" : "<command>");
  usage.push("[options]");
  for (const [key, def] of positionals) {
    const name = isMany(def) ? `${key}...` : key;
    usage.push(def.required === false || def.default !== undefined ? `[${name}]` : `<${name}>`);
  }
  out.push(...wrap(`${c("Usage:", "bold")} ${usage.join(" ")}`, USAGE_WIDTH, "  "), "");

  if (positionals.length) {
    out.push(c("Arguments:", "bold"));
    out.push(
      ...columns(
        positionals.map(([key, def]) => [key, def.description ?? ""]),
        c,
      ),
    );
    out.push("");
  }
  const commands: [string, string][] = [];
  for (const [sub, def] of Object.entries(subCommands)) {
    const subMeta: CommandMeta = (await resolveValue((await resolveValue(def))?.meta)) ?? {};
    if (!subMeta.hidden) commands.push([sub, subMeta.description ?? ""]);
  }
  if (commands.length) {
    out.push(c("Commands:", "bold"));
    out.push(...columns(commands, c));
    out.push("");
  }
  const options: [string, string][] = flags.map(([key, def]) => [flagLabel(key, def), describe(def)]);
  options.push(["-h, --help", "Show this help"]);
  if (path.length === 1 && version) options.push(["-v, --version", "Print the version"]);
  out.push(c("Options:", "bold"));
  out.push(...columns(options, c));
  if (commands.length) out.push("", ...wrap(`Run "${name} <command> --help" for more about a command.`, USAGE_WIDTH));
  return out.join("\n") + "\n";
}

function flagLabel(key: string, def: ArgDef): string {
  const aliases = "alias" in def && def.alias !== undefined ? [def.alias].flat() : [];
  const names = [...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), `--${key}`].join(", ");
  return def.type === "string" || def.type === "enum" ? `${names} <${key}>` : names;
}

function describe(def: ArgDef): string {
  const text = def.description ?? "";
  if (def.type === "boolean" || def.default === undefined) return text;
  return `${text} (default: ${def.default})`;
}

/** Two columns: names, then text wrapped beside them (below them when a name is too long). */
function columns(rows: [string, string][], c: (text: string, style: Parameters<typeof paint>[1]) => string): string[] {
  const labelWidth = Math.min(LABEL_MAX, Math.max(...rows.map(([label]) => label.length)));
  const indent = " ".repeat(2 + labelWidth + 2);
  const lines: string[] = [];
  for (const [label, text] of rows) {
    const body = wrap(text, USAGE_WIDTH - indent.length);
    if (label.length > labelWidth) {
      lines.push(`  ${c(label, "cyan")}`);
      lines.push(...body.map((l) => indent + l));
      continue;
    }
    lines.push(`  ${c(label, "cyan")}${" ".repeat(labelWidth - label.length + 2)}${body[0] ?? ""}`.trimEnd());
    lines.push(...body.slice(1).map((l) => indent + l));
  }
  return lines;
}
