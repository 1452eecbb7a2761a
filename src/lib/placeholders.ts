// The project placeholders of a hosted target (config.json `args`, `env` values and `cwd`), filled in once per
// child by the host, and the check that refuses the plain one where a shell would read it as code.
import { basename } from "node:path";

/** The project folder as it is: for a value that reaches the program whole (one argv element, an env value, cwd). */
export const PROJECT = "{project}";
/**
 * The project folder quoted for a POSIX shell (sh, bash, dash, zsh, ksh): for a `sh -c` script, where a folder
 * named `p';touch X;'` would otherwise run `touch X`.
 */
export const PROJECT_SH = "{project:sh}";

const ANY_PROJECT = /\{project(:sh)?\}/g;

/**
 * `text` with both placeholders replaced in one pass (a second pass would look for placeholders inside the folder
 * name just inserted). Without a project (a "global" child) the text stays as written: config refuses a placeholder
 * there.
 */
export function fillProject(text: string, project: string | undefined): string {
  if (!project) return text;
  return text.replace(ANY_PROJECT, (_, sh: string | undefined) => (sh ? shellQuote(project) : project));
}

/** One single-quoted POSIX shell word: everything in it is literal, a `'` is closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Whether any placeholder form appears in `text`. */
export function mentionsProject(text: string): boolean {
  return text.includes(PROJECT) || text.includes(PROJECT_SH);
}

const POSIX_SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh"]);
const CMD = new Set(["cmd", "cmd.exe"]);
const POWERSHELL = new Set(["powershell", "powershell.exe", "pwsh", "pwsh.exe"]);

/**
 * Why a command's use of a project placeholder lets a folder name run as code, or undefined when it does not.
 * Refused rather than warned about: the plain `{project}` inside a shell script is never right — an ordinary folder
 * name with a space or an apostrophe already breaks the server, and a cloned folder with a hostile name runs
 * commands as the user before anyone reads a log. `{project}` as an argument after the script (`"$1"`) is safe and
 * stays allowed.
 */
export function shellPlaceholderProblem(command: string, args: readonly string[]): string | undefined {
  let argv = [command, ...args];
  // `env bash -c …`: the shell is the first word after env's own options and VAR=value pairs.
  if (name(argv[0]!) === "env") {
    const at = argv.findIndex((a, i) => i > 0 && !a.startsWith("-") && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a));
    if (at < 0) return undefined;
    argv = argv.slice(at);
  }
  const shell = name(argv[0]!);
  const rest = argv.slice(1);
  if (POSIX_SHELLS.has(shell)) {
    const at = posixScriptIndex(rest);
    if (at === undefined || !rest[at]!.includes(PROJECT)) return undefined;
    return (
      `"${PROJECT}" is pasted into the ${shell} -c script as it is, so a project folder whose name holds a quote, ";" or "$(" runs ` +
      `as commands. Write "${PROJECT_SH}" in the script instead (msm quotes it for the shell, e.g. "cd ${PROJECT_SH} && exec server"), ` +
      `or pass "${PROJECT}" as an argument after the script and use "$1" there`
    );
  }
  if (CMD.has(shell) || POWERSHELL.has(shell)) {
    const flag = CMD.has(shell) ? /^\/[ck]$/i : /^[-/]c(o(m(m(a(n(d)?)?)?)?)?)?$/i;
    const at = rest.findIndex((a) => flag.test(a));
    if (at < 0 || !rest.slice(at + 1).some(mentionsProject)) return undefined;
    return (
      `${shell} reads everything after ${rest[at]} as one command line, where a project folder whose name holds "&" or "%" ` +
      `runs as commands, and no placeholder can quote for it ("${PROJECT_SH}" is for POSIX shells). Put the server's own ` +
      `program in "command" and "${PROJECT}" in an argument of its own`
    );
  }
  return undefined;
}

/** The command name without folder, case kept except on a Windows-style name (cmd.exe, PowerShell.exe). */
function name(path: string): string {
  const base = basename(path.replaceAll("\\", "/"));
  return /\.exe$/i.test(base) ? base.toLowerCase() : base;
}

/**
 * Where the script of `sh [options] -c [options] SCRIPT [NAME [ARG...]]` is among `args` (after the shell), or
 * undefined when there is no `-c` (a script file's arguments are plain words). Options are `-x`/`+x` clusters,
 * `-o NAME`/`+o NAME` and long `--options`; `--` ends them.
 */
function posixScriptIndex(args: readonly string[]): number | undefined {
  let command = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return command && i + 1 < args.length ? i + 1 : undefined;
    if (arg.startsWith("--")) continue;
    if (arg === "-o" || arg === "+o" || arg === "-O" || arg === "+O") {
      i++;
      continue;
    }
    if (/^[-+][A-Za-z]+$/.test(arg)) {
      if (arg.startsWith("-") && arg.includes("c")) command = true;
      continue;
    }
    return command ? i : undefined;
  }
  return undefined;
}
