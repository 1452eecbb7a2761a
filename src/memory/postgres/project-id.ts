import { lstatSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { readProjectFile } from "../../lib/project-file.ts";

/**
 * Which graph a project's sessions share in a PostgreSQL database. Two clones of one repository, on any machines,
 * must land on the same id, and two different repositories never: so the git `origin` URL comes first (normalised,
 * since one clone may use https and another ssh), then an explicit `"projectId"` in `<project>/.claude/msm.json`
 * (for folders without a remote), then the absolute path.
 */
export interface ProjectIdentity {
  id: string;
  /** How the id was found, for `memory_stats`. */
  source: "git-origin" | "msm.json" | "path" | "home";
}

/**
 * `https://GitHub.com/org/repo.git`, `git@github.com:org/repo`, `ssh://git@github.com:22/org/repo/` all become
 * `github.com/org/repo`: no scheme, user or default port, host lower-cased, no `.git` or trailing slash. The path
 * keeps its case (many hosts treat it as significant). A local path remote stays a path.
 */
export function normaliseOrigin(raw: string): string {
  const url = raw.trim();
  let host = "";
  let path: string;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (scheme) {
    const rest = scheme[2]!;
    const slash = rest.indexOf("/");
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    path = slash < 0 ? "" : rest.slice(slash);
    host = authority.replace(/^.*@/, "");
    if (scheme[1]!.toLowerCase() === "file") return `file:${resolve(path)}`;
  } else {
    // scp-like syntax: [user@]host:path (no slash before the colon).
    const scp = /^(?:[^@/]+@)?([^:/]+):(.*)$/.exec(url);
    if (!scp) return `file:${resolve(url)}`;
    host = scp[1]!;
    path = scp[2]!;
  }
  host = host.toLowerCase().replace(/:(22|80|443)$/, "");
  path = path
    .replace(/^\/+/, "")
    .replace(/\/+$/, "")
    .replace(/\.git$/i, "")
    .replace(/\/+$/, "");
  return `${host}/${path}`;
}

/** The identity of a project folder (absolute, already checked by the caller); `undefined` project = home. */
export function projectIdentity(project: string | undefined, user = process.env.USER ?? "user"): ProjectIdentity {
  if (!project) return { id: `home:${user}`, source: "home" };
  const origin = gitOrigin(project);
  if (origin) return { id: normaliseOrigin(origin), source: "git-origin" };
  const explicit = msmJsonProjectId(project);
  if (explicit) return { id: `id:${explicit}`, source: "msm.json" };
  return { id: `path:${project}`, source: "path" };
}

/** `.git` is a folder, or (worktrees, submodules) a file naming one; a worktree's config lives in its common dir. */
function gitConfigFile(project: string): string | undefined {
  const dotGit = join(project, ".git");
  let gitDir: string;
  try {
    const stat = lstatSync(dotGit);
    if (stat.isDirectory()) gitDir = dotGit;
    else if (stat.isFile()) {
      const line = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8"));
      if (!line) return undefined;
      gitDir = isAbsolute(line[1]!.trim()) ? line[1]!.trim() : resolve(project, line[1]!.trim());
    } else return undefined;
  } catch {
    return undefined;
  }
  try {
    const common = readFileSync(join(gitDir, "commondir"), "utf8").trim();
    if (common) gitDir = isAbsolute(common) ? common : resolve(gitDir, common);
  } catch {}
  return join(gitDir, "config");
}

// Read on every request, so cached by the config file's mtime and size (a stat per request, no parsing).
const originCache = new Map<string, { stamp: string; origin: string | undefined }>();

/** `remote.origin.url` from the repository's config (read directly: no `git` process per request, no git needed). */
export function gitOrigin(project: string): string | undefined {
  const file = gitConfigFile(project);
  if (!file) return undefined;
  let stamp: string;
  try {
    const stat = statSync(file);
    stamp = `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return undefined;
  }
  const hit = originCache.get(file);
  if (hit?.stamp === stamp) return hit.origin;
  let origin: string | undefined;
  try {
    let section = "";
    for (const raw of readFileSync(file, "utf8").split(/\r?\n/)) {
      const line = raw.trim();
      const header = /^\[\s*([^\s\]"]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line);
      if (header) {
        section = `${header[1]!.toLowerCase()}${header[2] !== undefined ? `.${header[2]}` : ""}`;
        continue;
      }
      const entry = /^url\s*=\s*(.*)$/i.exec(line);
      if (section === "remote.origin" && entry) {
        origin = entry[1]!.replace(/^"(.*)"$/, "$1").trim();
        break;
      }
    }
  } catch {}
  originCache.set(file, { stamp, origin });
  return origin;
}

/**
 * `"projectId"` from `<project>/.claude/msm.json`. Files under a project are untrusted (lib/project-file.ts): a file
 * that fails its checks or does not parse is ignored (the path id stands).
 */
export function msmJsonProjectId(project: string): string | undefined {
  const read = readProjectFile(project);
  if (read.state !== "read" || !read.value || typeof read.value !== "object") return undefined;
  const value = (read.value as { projectId?: unknown }).projectId;
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}
