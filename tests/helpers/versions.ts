import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/**
 * This machine's msm built again with another baked-in version — what a user has after an upgrade (or before
 * one). Same source, same build.ts as dist/msm; only MSM_VERSION differs. Built once per test run (the preload's
 * temp root) and shared by the test files that need it.
 */
export async function buildVersion(version: string, dir = join(process.env.MSM_TEST_ROOT ?? "/tmp", "versions", version)): Promise<string> {
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
