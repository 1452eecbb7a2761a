/** What `msm doctor` reports: checks from several folders (install/ for editors, supervisor/ for daemons) share this shape. */
import { statSync } from "node:fs";
import { errnoCode } from "./errors.ts";
import { tilde } from "./paths.ts";
import { POSIX_MODES } from "./trust.ts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to run or do, when the status is not ok. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  version: string;
  home: string;
  checks: Check[];
}

/** Is a file owned by this user (always true where the OS has no uids)? */
export const mine = (uid: number) => typeof process.getuid !== "function" || uid === process.getuid();

/** Writable by others is a failure (config.json starts programs); readable by others fails only for a secret. */
export function checkPrivateFile(name: string, file: string, absent: string, secret = false): Check {
  try {
    const st = statSync(file);
    if (!mine(st.uid)) return { name, status: "fail", detail: `${file} belongs to another user`, fix: `remove it; msm will not use it` };
    // Windows: no modes (every file reads 0666); the folder's ACL decides, and the MSM_HOME check says whose it is.
    if (!POSIX_MODES) return { name, status: "ok", detail: tilde(file) };
    const mode = (st.mode & 0o777).toString(8);
    if ((st.mode & 0o022) !== 0) return { name, status: "fail", detail: `${file} is writable by other users (mode ${mode})`, fix: `chmod 600 ${file}` };
    if ((st.mode & 0o044) !== 0)
      return {
        name,
        status: secret ? "fail" : "warn",
        detail: `${file} is readable by other users (mode ${mode}); it may hold secrets`,
        fix: `chmod 600 ${file}`,
      };
    return { name, status: "ok", detail: `${tilde(file)} (private)` };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { name, status: "ok", detail: `${tilde(file)} absent (${absent})` };
    return { name, status: "fail", detail: `cannot read ${file} (${errnoCode(error)})`, fix: "check its permissions" };
  }
}
