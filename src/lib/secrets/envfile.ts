/**
 * A target's `envFile`: `KEY=value` lines (the dotenv shape editors and docker read) that go into the server's
 * environment and that `${VAR}` references read. The file may hold secrets and decides what a server runs with
 * (`NODE_OPTIONS`, `PATH`), so it is held to config.json's rule: yours, and writable by nobody else.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { errnoCode } from "../errors.ts";
import { msmHome, userHome } from "../paths.ts";
import { foreignReason } from "../trust.ts";

/** Where `envFile` points: `~/…` is in the home folder, a relative path is relative to MSM_HOME (as `privateKeyFile`). */
export function envFilePath(path: string): string {
  if (path === "~" || path.startsWith("~/") || path.startsWith("~\\")) return join(userHome(), path.slice(1));
  return isAbsolute(path) ? path : join(msmHome(), path);
}

/** Why the file cannot be used (missing, unreadable, another user's), or its variables. Never a value in the reason. */
export function readEnvFile(path: string): { vars: Record<string, string> } | { problem: string } {
  const file = envFilePath(path);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    const code = errnoCode(error);
    return { problem: `envFile ${file} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(error)})`}` };
  }
  try {
    // Checked on the open descriptor, so what is read is what was checked.
    const foreign = foreignReason(fstatSync(fd));
    if (foreign) return { problem: `envFile ${file} ${foreign}; msm refuses it (it decides what the server runs with). Run: chmod go-w ${file}` };
    return { vars: parseEnvFile(readFileSync(fd, "utf8")) };
  } catch (error) {
    return { problem: `envFile ${file} cannot be read (${errnoCode(error) ?? String(error)})` };
  } finally {
    closeSync(fd);
  }
}

/**
 * `KEY=value` per line; `export KEY=value` too; `#` starts a comment (outside quotes, after a space); values may be
 * in single quotes (as written) or double quotes (`\n`, `\"` and `\\` understood, and may span lines). Lines that are
 * not assignments are skipped: a dotenv file is read leniently everywhere, and msm follows suit.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s?(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const name = match[1]!;
    let rest = match[2]!.trimStart();
    if (rest.startsWith('"')) {
      // A double-quoted value may continue on the next lines until its closing quote.
      let body = rest.slice(1);
      while (!closingQuote(body) && i + 1 < lines.length) body += `\n${lines[++i]}`;
      const end = closingQuote(body);
      const raw = end === undefined ? body : body.slice(0, end);
      vars[name] = raw.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: "\n", r: "\r", t: "\t" })[c] ?? c);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      vars[name] = end < 0 ? rest.slice(1) : rest.slice(1, end);
    } else {
      const comment = rest.search(/\s#/);
      if (comment >= 0) rest = rest.slice(0, comment);
      vars[name] = rest.trim();
    }
  }
  return vars;
}

/** Index of the first unescaped `"` in `text`, or undefined. */
function closingQuote(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return undefined;
}
