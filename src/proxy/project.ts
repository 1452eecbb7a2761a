import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * The project this session works in: `--project`, else MSM_PROJECT_DIR or CLAUDE_PROJECT_DIR (set by Claude Code),
 * else the nearest ancestor of the working directory holding `.git` or `.claude`, else the working directory.
 */
export function resolveProject(explicit: string | undefined, env = process.env, cwd = process.cwd()): string {
  const given = explicit || env.MSM_PROJECT_DIR || env.CLAUDE_PROJECT_DIR;
  if (given) return resolve(cwd, given);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git")) || existsSync(join(dir, ".claude"))) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}
