import { randomBytes } from "node:crypto";
import { linkSync, renameSync, unlinkSync, writeFileSync } from "node:fs";

function tempName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}

/** Replaces `file` whole: readers see the old content or the new, never a torn write. */
export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  const temp = tempName(file);
  try {
    writeFileSync(temp, content, { flag: "wx", mode });
    renameSync(temp, file);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
}

/**
 * Creates `file` with `content` only if it does not exist (throws EEXIST otherwise). Content is complete before the
 * name appears, because link(2) publishes a fully written temp file atomically.
 */
export function createFileExclusive(file: string, content: string, mode = 0o600): void {
  const temp = tempName(file);
  try {
    writeFileSync(temp, content, { flag: "wx", mode });
    linkSync(temp, file);
  } finally {
    removeQuietly(temp);
  }
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {}
}
