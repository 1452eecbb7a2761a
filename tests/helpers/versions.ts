import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/**
 * This machine's msm built again with another baked-in version, at `<dir>/msm` — what a user has after an
 * upgrade (or before one). Same source, same build.ts as dist/msm; only MSM_VERSION differs.
 */
export async function buildVersion(version: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, "msm");
  if (existsSync(outfile)) return outfile;
  const child = Bun.spawn([process.execPath, "build.ts", "--single", "--outfile", outfile], {
    cwd: ROOT,
    env: { ...process.env, MSM_VERSION: version },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`building msm ${version} failed:\n${stderr}`);
  return outfile;
}
