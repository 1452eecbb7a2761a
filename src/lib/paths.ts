import { mkdirSync, chmodSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { MsmError, errnoCode } from "./errors.ts";
import { foreignReason } from "./trust.ts";

/**
 * The state directory, always absolute (a relative MSM_HOME is taken from the working directory; the CLI also
 * rewrites the variable so the daemons it starts elsewhere agree). Read on every call (not cached) so tests and
 * tools that set MSM_HOME late still win.
 */
export function msmHome(): string {
  const fromEnv = process.env.MSM_HOME;
  if (fromEnv && fromEnv.trim() !== "") return resolve(fromEnv);
  return join(userHome(), ".mcp-session-manager");
}

/** HOME first, because tests point HOME at a temp dir and os.homedir() may read the passwd entry instead. */
export function userHome(): string {
  return process.env.HOME || homedir();
}

/**
 * Creates MSM_HOME (0700) and its logs folder if missing; tightens the mode of an existing one that others can only
 * read. One owned by another user, or writable by others, is refused: it holds the token and config.json, and
 * config.json runs commands.
 */
export function ensureHome(): string {
  const home = msmHome();
  try {
    for (const dir of [home, join(home, "logs")]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const stat = statSync(dir);
      const problem = foreignReason(stat);
      if (problem) {
        const fix = problem.startsWith("is owned") ? `point MSM_HOME at a folder you own` : `run: chmod 700 ${dir}`;
        throw new MsmError("HOME_UNSAFE", `The state directory ${dir} ${problem}; msm refuses it because it holds the token and config.json (which runs commands). To fix, ${fix}.`);
      }
      if ((stat.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    }
  } catch (error) {
    if (error instanceof MsmError) throw error;
    throw new MsmError(
      "HOME_UNUSABLE",
      `Cannot use the state directory ${home} (${errnoCode(error) ?? String(error)}). ` +
        `Check its permissions, or point MSM_HOME at a writable directory.`,
      { cause: error },
    );
  }
  return home;
}

export const paths = {
  config: () => join(msmHome(), "config.json"),
  token: () => join(msmHome(), "token"),
  lock: (name: string) => join(msmHome(), `${name}.lock`),
  startLock: (name: string) => join(msmHome(), `${name}.starting`),
  /** Memory databases the memory daemon has opened (for the dashboard). */
  databases: () => join(msmHome(), "databases.json"),
  logs: () => join(msmHome(), "logs"),
  /** A hosted server seen sending requests of its own (sampling, elicitation): its sessions take turns from the start. */
  turns: (name: string) => join(msmHome(), `${name}.turns`),
  log: (name: string) => join(msmHome(), "logs", `${name}.log`),
};
