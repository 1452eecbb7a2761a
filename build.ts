/**
 * Builds msm as self-contained binaries with `bun build --compile`.
 *   bun build.ts --single              this machine's binary only, at dist/msm
 *   bun build.ts --release             every release target (below), each in dist/targets/<target>/, then the
 *                                      release folder dist/release/: archives, SHA256SUMS, manifest.json
 *   bun build.ts --release --targets linux-x64,windows-x64   a subset
 *   bun build.ts --single --outfile DIR/msm   this machine's binary elsewhere (tests build other versions)
 *   bun build.ts --single --target windows-x64 --outfile DIR/msm.exe   one release target, no archive (test:windows)
 * Cross targets are built on their Bun runtime fetched from the npm registry (release/runtimes.ts), so a release
 * builds on a machine that reaches nothing but npm. MSM_VERSION overrides the version (else the git tag on HEAD,
 * else package.json); SOURCE_DATE_EPOCH fixes the build date.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import pkg from "./package.json" with { type: "json" };
import { WORKER_ENTRYPOINTS } from "./src/lib/contracts/worker-url.ts";
import { packageRelease, type Built } from "./release/package.ts";
import { bunVersion, runtime } from "./release/runtimes.ts";

interface Target {
  /** Release name: `<os>-<arch>[-variant]`, as the archive and the installers spell it. */
  name: string;
  compile: Bun.Build.CompileTarget;
  /** The npm package holding this platform's Bun runtime, and the runtime's path inside it. */
  npm: string;
  exe: "bin/bun" | "bin/bun.exe";
}

export const TARGETS: Target[] = [
  { name: "linux-x64", compile: "bun-linux-x64-modern", npm: "@oven/bun-linux-x64", exe: "bin/bun" },
  { name: "linux-x64-baseline", compile: "bun-linux-x64-baseline", npm: "@oven/bun-linux-x64-baseline", exe: "bin/bun" },
  { name: "linux-arm64", compile: "bun-linux-arm64", npm: "@oven/bun-linux-aarch64", exe: "bin/bun" },
  { name: "linux-x64-musl", compile: "bun-linux-x64-modern-musl", npm: "@oven/bun-linux-x64-musl", exe: "bin/bun" },
  { name: "linux-x64-musl-baseline", compile: "bun-linux-x64-baseline-musl", npm: "@oven/bun-linux-x64-musl-baseline", exe: "bin/bun" },
  { name: "linux-arm64-musl", compile: "bun-linux-arm64-musl", npm: "@oven/bun-linux-aarch64-musl", exe: "bin/bun" },
  { name: "darwin-x64", compile: "bun-darwin-x64", npm: "@oven/bun-darwin-x64", exe: "bin/bun" },
  { name: "darwin-x64-baseline", compile: "bun-darwin-x64-baseline", npm: "@oven/bun-darwin-x64-baseline", exe: "bin/bun" },
  { name: "darwin-arm64", compile: "bun-darwin-arm64", npm: "@oven/bun-darwin-aarch64", exe: "bin/bun" },
  { name: "windows-x64", compile: "bun-windows-x64-modern", npm: "@oven/bun-windows-x64", exe: "bin/bun.exe" },
  { name: "windows-x64-baseline", compile: "bun-windows-x64-baseline", npm: "@oven/bun-windows-x64-baseline", exe: "bin/bun.exe" },
];

/** What `msm --version` reports: baked in at build time, so a binary says exactly what it is. */
export interface BuildInfo {
  version: string;
  commit: string;
  buildDate: string;
}

function git(...args: string[]): string | undefined {
  const result = Bun.spawnSync(["git", ...args], { stderr: "ignore" });
  return result.exitCode === 0 ? result.stdout.toString().trim() || undefined : undefined;
}

export function buildInfo(): BuildInfo {
  const tag = git("describe", "--tags", "--exact-match", "--match", "v*", "HEAD");
  const version = process.env.MSM_VERSION || tag?.replace(/^v/, "") || pkg.version;
  const commit = (git("rev-parse", "--short=12", "HEAD") ?? "unknown") + (git("status", "--porcelain", "--untracked-files=no") ? "-dirty" : "");
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const buildDate = new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().replace(/\.\d+Z$/, "Z");
  return { version, commit, buildDate };
}

async function build(info: BuildInfo, outfile: string, target?: Target): Promise<void> {
  const result = await Bun.build({
    // Workers are started with `new Worker(url)`, and a compiled binary only contains workers listed here: the memory
    // daemon runs each database on one, the dashboard's read-only explorer on another.
    entrypoints: ["./src/index.ts", ...WORKER_ENTRYPOINTS],
    minify: true,
    sourcemap: "linked",
    bytecode: true,
    format: "esm",
    // Each lazily imported subcommand becomes its own chunk, so `msm proxy` neither parses nor holds the memory
    // server, SQLite glue, Hono or the MCP SDK it never runs (measured: --version 43 MB RSS unsplit, 30 MB split).
    splitting: true,
    define: {
      MSM_VERSION: JSON.stringify(info.version),
      MSM_COMMIT: JSON.stringify(info.commit),
      MSM_BUILD_DATE: JSON.stringify(info.buildDate),
    },
    compile: {
      outfile,
      ...(target ? { target: target.compile, executablePath: await runtime(target.npm, target.exe) } : {}),
      // A daemon runs in whatever directory it was started from: it must not pick up a stray bunfig.toml or .env.
      autoloadBunfig: false,
      autoloadDotenv: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build failed for ${target?.name ?? "this machine"}`);
  }
}

/** Clears a folder's previous chunk maps: they get content-hashed names, so dist/ would collect them forever. */
function clearMaps(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const file of new Bun.Glob("chunk-*.js.map").scanSync(dir)) rmSync(`${dir}/${file}`, { force: true });
}

async function release(info: BuildInfo, names: string[] | undefined): Promise<void> {
  const unknown = names?.filter((n) => !TARGETS.some((t) => t.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown target ${unknown.join(", ")}; known: ${TARGETS.map((t) => t.name).join(", ")}`);
  const chosen = names ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;
  const started = performance.now();
  const built: Built[] = [];
  /** Runtime digest → the first target built on it. */
  const runtimes = new Map<string, string>();
  for (const target of chosen) {
    const t0 = performance.now();
    const dir = `./dist/targets/${target.name}`;
    rmSync(dir, { recursive: true, force: true });
    clearMaps(dir);
    const file = `${dir}/msm${target.exe.endsWith(".exe") ? ".exe" : ""}`;
    await build(info, file, target);
    // Said, not hidden: in Bun 1.4.5 @oven/bun-windows-x64-baseline (and the linux-x64 baseline packages) hold the
    // very runtime of the default build, so that "-baseline" archive is no baseline build at all. Built from npm
    // there is no other; the manifest and this log say which targets share a runtime.
    const digest = createHash("sha256").update(readFileSync(await runtime(target.npm, target.exe))).digest("hex");
    const twin = runtimes.get(digest);
    if (twin) console.error(`note: ${target.name} is built on the same Bun runtime as ${twin} (${target.npm}@${bunVersion()} holds the identical binary): its archive is the same program`);
    else runtimes.set(digest, target.name);
    built.push({ target: target.name, file, ...(twin ? { sameRuntimeAs: twin } : {}) });
    const mb = (statSync(file).size / 1024 ** 2).toFixed(1);
    console.error(`built ${file} (${mb} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const manifest = packageRelease(built, "./dist/release", { ...info, bun: bunVersion() });
  for (const f of manifest.files) console.error(`  ${f.name}  ${(f.size / 1024 ** 2).toFixed(1)} MB  ${f.sha256.slice(0, 16)}…`);
  console.error(`release ${info.version} (${info.commit}) in dist/release/: ${manifest.files.length} archives, SHA256SUMS, manifest.json — ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const info = buildInfo();
  if (argv.includes("--single")) {
    // --outfile: a test builds binaries of other versions (MSM_VERSION) beside the one under test.
    const i = argv.indexOf("--outfile");
    const outfile = i >= 0 && argv[i + 1] ? argv[i + 1]! : "./dist/msm";
    // --target: one release target's binary without packaging it (the Windows smoke test runs it under Wine).
    const t = argv.indexOf("--target");
    const target = t >= 0 ? TARGETS.find((x) => x.name === argv[t + 1]) : undefined;
    if (t >= 0 && !target) throw new Error(`unknown target ${argv[t + 1]}; known: ${TARGETS.map((x) => x.name).join(", ")}`);
    if (outfile === "./dist/msm") clearMaps("./dist");
    await build(info, outfile, target);
    console.error(`built ${outfile} (${target?.name ?? "this machine"}, ${info.version}, ${info.commit})`);
  } else if (argv.includes("--release")) {
    const i = argv.indexOf("--targets");
    await release(info, i >= 0 ? argv[i + 1]?.split(",").filter(Boolean) : undefined);
  } else {
    console.error("usage: bun build.ts --single | --release [--targets a,b]");
    process.exit(2);
  }
}
