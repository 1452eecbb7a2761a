import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

/**
 * The Bun runtime a cross-compiled binary is built on. Bun would download it from GitHub while compiling; this
 * machine reaches only the npm registry, where every platform's runtime is published as `@oven/bun-<os>-<arch>`
 * (npm names say aarch64). Fetched with the ordinary npm client, pinned to the Bun version package-lock.json
 * installs, checked against the registry's integrity hash, and cached so later builds fetch nothing.
 */

const LOCK = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, { version?: string; integrity?: string }>;
};

/** The exact Bun version package-lock.json installs: the runtime every binary of a release is built on. */
export function bunVersion(): string {
  const version = LOCK.packages["node_modules/bun"]?.version;
  if (!version) throw new Error("package-lock.json does not pin bun; run npm install");
  return version;
}

export const CACHE_DIR = new URL("../node_modules/.cache/msm-runtimes/", import.meta.url).pathname;

/**
 * Path of the runtime binary inside the cache, fetching it first if needed. `exe` is its path inside the npm
 * package (`bin/bun` or `bin/bun.exe`).
 */
export async function runtime(npmName: string, exe: string, version = bunVersion()): Promise<string> {
  const dir = join(CACHE_DIR, `${npmName.replace("/", "+")}@${version}`);
  const file = join(dir, exe.split("/").pop()!);
  if (existsSync(file)) return file;

  const expected = expectedIntegrity(npmName, version);
  const work = mkdtempSync(join(tmpdir(), "msm-runtime-"));
  try {
    const packed = Bun.spawnSync(["npm", "pack", `${npmName}@${version}`, "--json", "--pack-destination", work], { stderr: "pipe" });
    if (packed.exitCode !== 0) {
      throw new Error(`npm pack ${npmName}@${version} failed: ${packed.stderr.toString().trim().split("\n").slice(-3).join(" ")}`);
    }
    const [info] = JSON.parse(packed.stdout.toString()) as { filename: string }[];
    const tarball = readFileSync(join(work, info!.filename));
    const actual = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
    if (actual !== expected) throw new Error(`${npmName}@${version}: integrity mismatch (registry says ${expected}, got ${actual}); refusing to build on it`);

    const files = await new Bun.Archive(tarball).files();
    const binary = files.get(`package/${exe}`);
    if (!binary) throw new Error(`${npmName}@${version} has no ${exe}`);
    mkdirSync(dir, { recursive: true });
    // Written aside and renamed, so an interrupted build never leaves a truncated runtime in the cache.
    writeFileSync(`${file}.partial`, new Uint8Array(await binary.arrayBuffer()));
    chmodSync(`${file}.partial`, 0o755);
    writeFileSync(join(dir, "integrity"), actual + "\n");
    renameSync(`${file}.partial`, file);
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The registry's sha512 for the package: from package-lock.json when npm recorded it, else asked of the registry. */
function expectedIntegrity(npmName: string, version: string): string {
  const locked = LOCK.packages[`node_modules/${npmName}`];
  if (locked?.version === version && locked.integrity) return locked.integrity;
  const view = Bun.spawnSync(["npm", "view", `${npmName}@${version}`, "dist.integrity"], { stderr: "pipe" });
  const integrity = view.stdout.toString().trim();
  if (view.exitCode !== 0 || !integrity.startsWith("sha512-")) {
    throw new Error(`could not read the registry's integrity for ${npmName}@${version}: ${view.stderr.toString().trim()}`);
  }
  return integrity;
}
