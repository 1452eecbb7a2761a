import { mkdirSync, chmodSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { MsmError, errnoCode } from "./errors.ts";

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

/** Creates MSM_HOME (0700) and its logs folder if missing; tightens the mode of an existing one. */
export function ensureHome(): string {
  const home = msmHome();
  try {
    mkdirSync(join(home, "logs"), { recursive: true, mode: 0o700 });
    if ((statSync(home).mode & 0o777) !== 0o700) chmodSync(home, 0o700);
  } catch (error) {
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
  logs: () => join(msmHome(), "logs"),
  log: (name: string) => join(msmHome(), "logs", `${name}.log`),
};
