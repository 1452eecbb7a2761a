import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "./errors.ts";
import { foreignReason } from "./trust.ts";

/** A project's own msm settings (a memory `projectId`, tool rules that hide more), committed with its repository. */
export const PROJECT_FILE = join(".claude", "msm.json");
/** Larger than any real settings file: a bigger one is not read (and says so). */
export const PROJECT_FILE_MAX_BYTES = 64 * 1024;

export type ProjectFile =
  | { file: string; state: "absent" }
  /** A file msm does not use because someone other than the user could have written it (a symlink, a foreign owner). */
  | { file: string; state: "ignored"; reason: string }
  /** The user's file, but unreadable: not JSON, too large, not a regular file. */
  | { file: string; state: "invalid"; problem: string }
  | { file: string; state: "read"; value: unknown };

/**
 * `<project>/.claude/msm.json`, read as an untrusted file (architecture.md "Security rules"): never through a
 * symlink at `.claude` or at the file, never one another user owns or can write.
 */
export function readProjectFile(project: string): ProjectFile {
  const file = join(project, PROJECT_FILE);
  try {
    if (lstatSync(join(project, ".claude")).isSymbolicLink()) return { file, state: "ignored", reason: `${join(project, ".claude")} is a symbolic link` };
  } catch {
    return { file, state: "absent" };
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { file, state: "absent" };
    if (code === "ELOOP") return { file, state: "ignored", reason: "it is a symbolic link" };
    return { file, state: "invalid", problem: `cannot be read (${code ?? String(error)})` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { file, state: "invalid", problem: "is not a regular file" };
    const foreign = foreignReason(stat);
    if (foreign) return { file, state: "ignored", reason: `it ${foreign}` };
    if (stat.size > PROJECT_FILE_MAX_BYTES) return { file, state: "invalid", problem: `is larger than ${PROJECT_FILE_MAX_BYTES / 1024} KiB` };
    const text = readFileSync(fd, "utf8");
    try {
      return { file, state: "read", value: JSON.parse(text) };
    } catch (error) {
      return { file, state: "invalid", problem: `is not valid JSON (${(error as Error).message})` };
    }
  } catch (error) {
    return { file, state: "invalid", problem: `cannot be read (${errnoCode(error) ?? String(error)})` };
  } finally {
    closeSync(fd);
  }
}
