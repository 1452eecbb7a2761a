import { chmodSync, realpathSync, statSync, type Stats } from "node:fs";
import { isAbsolute } from "node:path";
import { errnoCode } from "./errors.ts";

/**
 * Who may steer msm's files. Everything msm reads or writes on disk must belong to the user it runs as and be
 * writable by nobody else: a project folder is whatever a cloned repository or another local user put there, and
 * config.json runs commands. Windows has no uid/mode bits to check (`process.getuid` is absent): checks pass there.
 */
export function currentUid(): number | undefined {
  return process.getuid?.();
}

/** The reason `stat` (of `path`) is not the user's alone to write, or undefined when it is. */
export function foreignReason(stat: Stats, mask = 0o022): string | undefined {
  const uid = currentUid();
  if (uid === undefined) return undefined;
  if (stat.uid !== uid) return `is owned by uid ${stat.uid}, not by you (uid ${uid})`;
  const loose = stat.mode & mask;
  if (loose) return `is writable by ${loose & 0o002 ? "every user" : "its group"} (mode ${modeText(stat.mode)})`;
  return undefined;
}

/**
 * Whether permission bits mean anything here. Windows reports every file as mode 0666 (0444 when read-only) and its
 * chmod only flips the read-only flag: who may read a file is its ACL, and a file under the user's profile is the
 * user's alone by default. So on Windows msm neither checks modes (`msm doctor` failed every healthy setup with
 * "mode 666") nor chmods — chmod of a database file SQLite holds open (`memory.db-shm`) fails with EBUSY there, which
 * failed every memory call after the first and `msm memory export` while the daemon ran.
 */
export const POSIX_MODES = process.platform !== "win32";

/**
 * Takes away the permission bits of `path` outside `mode` (a file an older msm wrote 0644, a folder made 0755) when
 * any are set; nothing on Windows (see POSIX_MODES). `stat`: the caller's fresh stat of it, if it has one.
 */
export function tightenMode(path: string, mode: number, stat: Pick<Stats, "mode"> = statSync(path)): void {
  if (!POSIX_MODES) return;
  if ((stat.mode & 0o777 & ~mode) !== 0) chmodSync(path, mode);
}

export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Folders that are never a project, even for root: a memory database in them would be a file written where the
 * system keeps its own (`/` once got a `/.claude/memory.db`). macOS keeps per-user temp folders under
 * /private/var/folders; those stay usable.
 */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/snap", "/System", "/Library", "/private/etc", "/private/var"];
const SYSTEM_EXCEPTIONS = ["/private/var/folders", "/var/folders"];

export function isSystemTree(dir: string): boolean {
  if (dir === "/") return true;
  const under = (root: string) => dir === root || dir.startsWith(root + "/");
  return SYSTEM_TREES.some(under) && !SYSTEM_EXCEPTIONS.some(under);
}

/**
 * Why `dir` cannot be a project, or undefined when it can: it must be an absolute, canonical (no symlink, no `..`)
 * existing directory owned by the user, not writable by every user, and not `/` or a system tree. Canonical, so the
 * checks below it (`.claude`, the database files) are about the real folder and a symlink cannot swap it later.
 */
export function projectProblem(dir: string): string | undefined {
  if (!isAbsolute(dir)) return "is not an absolute path";
  let real: string;
  let stat: Stats;
  try {
    real = realpathSync(dir);
    stat = statSync(real);
  } catch (error) {
    const code = errnoCode(error);
    return code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read (${code ?? String(error)})`;
  }
  if (real !== dir) return `is not canonical (it resolves to ${real})`;
  if (!stat.isDirectory()) return "is not a directory";
  if (isSystemTree(real)) return "is the root or a system folder";
  const uid = currentUid();
  if (uid !== undefined && stat.uid !== uid) return `is owned by uid ${stat.uid}, not by you (uid ${uid})`;
  if (uid !== undefined && stat.mode & 0o002) return `is writable by every user (mode ${modeText(stat.mode)})`;
  return undefined;
}
