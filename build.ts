/**
 * Builds msm as self-contained binaries with `bun build --compile`.
 *   bun build.ts            every target below (cross targets need their Bun runtime downloaded once)
 *   bun build.ts --single   only this machine's, at dist/msm
 */
import { mkdirSync, rmSync } from "node:fs";
import pkg from "./package.json" with { type: "json" };

const TARGETS = [
  { target: "bun-linux-x64", out: "msm-linux-x64" },
  { target: "bun-linux-arm64", out: "msm-linux-arm64" },
  { target: "bun-darwin-x64", out: "msm-darwin-x64" },
  { target: "bun-darwin-arm64", out: "msm-darwin-arm64" },
  { target: "bun-windows-x64", out: "msm-windows-x64.exe" },
] as const;

const single = process.argv.includes("--single");
const version = process.env.MSM_VERSION ?? pkg.version;

async function build(target: string | undefined, outfile: string): Promise<void> {
  const result = await Bun.build({
    // The memory daemon runs each database on a worker thread; a compiled binary only contains workers listed here.
    entrypoints: ["./src/index.ts", "./src/memory/store-worker.ts"],
    minify: true,
    sourcemap: "linked",
    bytecode: true,
    format: "esm",
    // Each lazily imported subcommand becomes its own chunk, so `msm proxy` neither parses nor holds the memory
    // server, SQLite glue, Hono or the MCP SDK it never runs (measured: --version 43 MB RSS unsplit, 30 MB split).
    splitting: true,
    define: { MSM_VERSION: JSON.stringify(version) },
    compile: {
      outfile,
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
      // A daemon runs in whatever directory it was started from: it must not pick up a stray bunfig.toml or .env.
      autoloadBunfig: false,
      autoloadDotenv: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build failed for ${target ?? "this machine"}`);
  }
  console.error(`built ${outfile} (${version})`);
}

// Chunk source maps get content-hashed names: clear the previous build's so dist/ holds only this one's.
mkdirSync("./dist", { recursive: true });
for (const file of new Bun.Glob("chunk-*.js.map").scanSync("./dist")) rmSync(`./dist/${file}`, { force: true });

if (single) {
  await build(undefined, "./dist/msm");
} else {
  for (const { target, out } of TARGETS) await build(target, `./dist/${out}`);
}
