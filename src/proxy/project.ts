import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { readEnv } from "../lib/env.ts";
import { MsmError } from "../lib/errors.ts";
import { currentUid, projectProblem } from "../lib/trust.ts";

/**
 * The project this session works in: `--project`, else MSM_PROJECT_DIR or CLAUDE_PROJECT_DIR (set by Claude Code),
 * else the nearest ancestor of the working directory holding `.git` or `.claude`, else the working directory.
 * Undefined when none of these can be a project (the working directory is `/`, a system or shared folder): the
 * session then uses the home database. A given path must be absolute (relative to what? an editor's working
 * directory changes between sessions) and is sent canonical, as the daemon demands.
 */
export function resolveProject(explicit: string | undefined, env = process.env, cwd = process.cwd()): string | undefined {
  const fromMsm = readEnv(env).projectDir;
  const given = explicit || fromMsm || env.CLAUDE_PROJECT_DIR;
  if (given) {
    const from = explicit ? "--project" : fromMsm ? "MSM_PROJECT_DIR" : "CLAUDE_PROJECT_DIR";
    if (!isAbsolute(given)) throw new MsmError("USAGE", `${from} "${given}" is not an absolute path. Give the project folder as an absolute path.`);
    // Not existing (or not ours) is the daemon's to refuse, per call, with a message naming the path.
    try {
      return realpathSync(given);
    } catch {
      return given;
    }
  }
  let start: string;
  try {
    start = realpathSync(cwd);
  } catch {
    return undefined;
  }
  // The walk stops at the first folder that is not the user's own (or is writable by everyone, like /tmp): a
  // `.claude` another user planted above the working directory must not capture this session's memory.
  for (let dir = start; mayHoldProject(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, ".git")) || existsSync(join(dir, ".claude"))) return projectProblem(dir) ? undefined : dir;
    if (dirname(dir) === dir) break;
  }
  return projectProblem(start) ? undefined : start;
}

function mayHoldProject(dir: string): boolean {
  const uid = currentUid();
  if (uid === undefined) return true;
  try {
    const stat = statSync(dir);
    return stat.uid === uid && (stat.mode & 0o002) === 0;
  } catch {
    return false;
  }
}
