import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { MSM, requireBinary } from "./sandbox.ts";

const ROOT = resolve(import.meta.dir, "../..");

/**
 * This machine's msm built again with another baked-in version — what a user has after an upgrade (or before
 * one). Same source, same build.ts as dist/msm; only MSM_VERSION differs. Built once per build of dist/msm and
 * shared by the test files that need it, which run in separate workers (each with its own MSM_TEST_ROOT):
 * dist/test-versions/<version>-<stamp of dist/msm>/msm.
 */
export async function buildVersion(version: string, dir = sharedDir(version)): Promise<string> {
  const outfile = join(dir, "msm");
  if (existsSync(outfile)) return outfile;
  mkdirSync(dir, { recursive: true });
  // Two files may build the same version at once: each into its own file, renamed into place whole.
  const partial = `${outfile}-${process.pid}-partial`;
  const child = Bun.spawn([process.execPath, "build.ts", "--single", "--outfile", partial], {
    cwd: ROOT,
    env: { ...process.env, MSM_VERSION: version },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`building msm ${version} failed:\n${stderr}`);
  renameSync(partial, outfile);
  return outfile;
}

/** The folder for `version` built alongside the current dist/msm; copies built for an older dist/msm are removed. */
function sharedDir(version: string): string {
  requireBinary();
  const { mtimeMs, size } = statSync(MSM);
  const name = `${version}-${Math.round(mtimeMs)}-${size}`;
  const base = join(ROOT, "dist", "test-versions");
  mkdirSync(base, { recursive: true });
  for (const entry of readdirSync(base)) if (entry.startsWith(`${version}-`) && entry !== name) rmSync(join(base, entry), { recursive: true, force: true });
  return join(base, name);
}
