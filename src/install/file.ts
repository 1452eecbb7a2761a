import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { MsmError, errnoCode } from "../lib/errors.ts";
import { createFileExclusive, removeQuietly } from "../lib/fsutil.ts";

/** A config file as read: the path actually written (a symlink's target, so dotfile links survive) and its text. */
export interface Snapshot {
  /** The path the user knows. */
  file: string;
  /** Where the bytes live (the symlink resolved). */
  real: string;
  exists: boolean;
  text: string;
  mode: number | undefined;
}

/** How many times an edit is redone on fresh content when another program wrote the file meanwhile. */
export const EDIT_ATTEMPTS = 3;

/** Where a config file's bytes live: a dotfiles symlink is followed, so the link itself survives msm's writes. */
export function realPath(file: string): string {
  try {
    if (lstatSync(file).isSymbolicLink()) return realpathSync(file);
  } catch {}
  return file;
}

export function snapshot(file: string): Snapshot {
  const real = realPath(file);
  try {
    const text = readFileSync(real, "utf8");
    return { file, real, exists: true, text, mode: statSync(real).mode & 0o7777 };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { file, real, exists: false, text: "", mode: undefined };
    throw new MsmError("INSTALL_FAILED", `Cannot read ${file} (${errnoCode(error) ?? String(error)})`, { cause: error });
  }
}

function unchangedSince(before: Snapshot): boolean {
  const now = snapshot(before.file);
  return now.exists === before.exists && now.text === before.text;
}

export const backupPath = (file: string) => `${file}.msm-backup`;

export interface WriteOptions {
  /** Mode for a file msm creates (an existing file keeps its own). */
  newMode: number;
  /** Mode the file gets whatever it had (msm's own config.json, which may hold secrets, stays 0600). */
  mode?: number;
  /** Keep a copy of the original before the first change (not for a file msm itself created). */
  backup?: boolean;
  /** Test seam: runs between the read and the write-back, where another program may write the file. */
  beforeCommit?: (file: string) => void;
}

/**
 * Read-modify-write of one config file that never loses someone else's write: `edit` computes the new text from
 * the current one (null = delete the file); the file is re-read just before the atomic rename and, if another
 * program changed it meanwhile, the edit is redone on the new content. A file that keeps changing is left alone.
 * The first change ever made to an existing file is preceded by a backup next to it (`<file>.msm-backup`).
 */
export function editFile<T>(
  file: string,
  edit: (text: string, exists: boolean) => { text: string | null; result: T },
  options: WriteOptions,
): { changed: boolean; backedUp: boolean; result: T; before: Snapshot; after: string | null } {
  for (let attempt = 1; attempt <= EDIT_ATTEMPTS; attempt++) {
    const before = snapshot(file);
    const { text, result } = edit(before.text, before.exists);
    const same = text === null ? !before.exists : before.exists && text === before.text;
    if (same) return { changed: false, backedUp: false, result, before, after: text };
    options.beforeCommit?.(file);
    if (!unchangedSince(before)) continue;
    const backedUp = before.exists && options.backup !== false && backupOnce(before);
    if (text === null) unlinkSync(before.real);
    else replaceAtomic(before.real, text, options.mode ?? before.mode ?? options.newMode, before.exists);
    return { changed: true, backedUp, result, before, after: text };
  }
  throw new MsmError(
    "FILE_CHANGED",
    `${file} kept changing while msm was editing it (another program is writing it); close that program or run the command again`,
  );
}

/** True when this call made the backup; an existing one is the older original and is kept. */
function backupOnce(before: Snapshot): boolean {
  try {
    createFileExclusive(backupPath(before.real), before.text, before.mode ?? 0o600);
    return true;
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error;
    return false;
  }
}

/** Temp file in the same folder, the original's mode set explicitly (umask would narrow it), fsync, rename. */
function replaceAtomic(file: string, text: string, mode: number, exists: boolean): void {
  if (!exists) mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode);
    renameSync(temp, file);
  } catch (error) {
    removeQuietly(temp);
    throw new MsmError("INSTALL_FAILED", `Cannot write ${file} (${errnoCode(error) ?? String(error)})`, { cause: error });
  }
}

/** Removes a folder msm created for a file it then removed, if nothing else lives there. */
export function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {}
}
