import { accessSync, constants, existsSync, mkdirSync, chmodSync, readFileSync, statSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { MsmError, errnoCode } from "./errors.ts";
import { currentUid, foreignReason, modeText, POSIX_MODES } from "./trust.ts";

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
      if (POSIX_MODES && (stat.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
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

/**
 * For commands that only read MSM_HOME (`msm status`): one this user cannot read would look empty — "supervisor not
 * running", nothing started — when it is only out of reach (another user's, or `sudo msm …` made it root's). Says
 * whose it is and what to run instead. A missing MSM_HOME is fine: nothing has run yet.
 */
export function checkHomeReadable(): void {
  const home = msmHome();
  const files = [home, paths.config(), paths.token(), paths.lock("supervisor")];
  for (const [i, path] of files.entries()) {
    try {
      if (i > 0 && !existsSync(path)) continue;
      accessSync(path, i === 0 ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT") continue; // no MSM_HOME: nothing has run yet; a file: gone meanwhile
      if (code !== "EACCES" && code !== "EPERM") throw error;
      throw unreadableHome(home, path, code);
    }
  }
}

function unreadableHome(home: string, path: string, code: string): MsmError {
  // What blocks: the file itself, or the nearest folder above it that this user may look at but not into.
  let blocker = path;
  let stat: Stats | undefined;
  for (;;) {
    try {
      stat = statSync(blocker);
      break;
    } catch {}
    if (dirname(blocker) === blocker) break;
    blocker = dirname(blocker);
  }
  const me = currentUid();
  const what = `Cannot read ${path} (${code})`;
  if (!stat || me === undefined) return new MsmError("HOME_UNREADABLE", `${what}. Check the permissions of ${home}, or point MSM_HOME at a folder you own.`);
  const owner = `${blocker === path ? "it" : `${blocker} is in the way: it`} is owned by ${userName(stat.uid)}, mode ${modeText(stat.mode)}, and you are ${userName(me)}`;
  let fix: string;
  if (stat.uid === me) {
    fix = `It is yours but not readable: run chmod ${stat.isDirectory() ? "u+rwx" : "u+rw"} ${blocker}, then msm status again.`;
  } else if (process.env.MSM_HOME) {
    fix = `MSM_HOME points at another user's msm. To see theirs, run it as them (sudo -u ${sudoName(stat.uid)} msm status); to see your own, unset MSM_HOME.`;
  } else if (ownerOf(userHome()) !== me) {
    // `sudo -u bob msm status` may keep the caller's HOME: the default MSM_HOME is then someone else's.
    fix = `HOME is ${userHome()}, which is not yours (sudo keeps the caller's HOME unless given -H): run msm with your own HOME, or set MSM_HOME to a folder you own.`;
  } else {
    // The default folder in the user's own home, but someone else's: `sudo msm …` created it as root.
    fix = `It is in your home but not yours (running msm with sudo creates it so): give it back with sudo chown -R ${me} ${home}, then run msm status again.`;
  }
  return new MsmError("HOME_UNREADABLE", `${what}: ${owner}, so msm cannot tell what runs there. ${fix}`);
}

function ownerOf(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}

/** The login name of `uid` from /etc/passwd, else "uid N" (no passwd entry, or a system that keeps users elsewhere). */
function userName(uid: number): string {
  const name = loginName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function sudoName(uid: number): string {
  return loginName(uid) ?? `'#${uid}'`;
}

function loginName(uid: number): string | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === uid && id !== "") return name;
    }
  } catch {}
  return undefined;
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
