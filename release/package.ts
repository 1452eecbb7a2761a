import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tarGz, zip } from "./archive.ts";

/** One built binary to ship: the target's name (`linux-x64`, `windows-x64`, …) and the file. */
export interface Built {
  target: string;
  file: string;
  /** The target built on the very same Bun runtime binary (a `-baseline` whose npm package holds the default build). */
  sameRuntimeAs?: string;
}

export interface ManifestFile {
  name: string;
  target: string;
  sha256: string;
  size: number;
  /**
   * Set when this target's Bun runtime is byte-identical to that target's (Bun 1.4.5's `-baseline` packages for
   * windows-x64 and linux-x64 hold the default build): the archive holds the same program, whatever its name says.
   */
  sameRuntimeAs?: string;
}

export interface Manifest {
  version: string;
  commit: string;
  buildDate: string;
  bun: string;
  files: ManifestFile[];
}

/** `msm-0.1.0-linux-x64.tar.gz`, `msm-0.1.0-windows-x64.zip`: the name installers ask for. */
export function archiveName(version: string, target: string): string {
  return `msm-${version}-${target}.${target.startsWith("windows-") ? "zip" : "tar.gz"}`;
}

/**
 * Writes the release folder: one archive per binary (the binary alone, named `msm` or `msm.exe`), `SHA256SUMS`
 * in the format `sha256sum -c` reads, and `manifest.json`. The same code packages `npm run release` and the
 * installer test's small release, so what the test installs is shaped exactly like what users download.
 */
export function packageRelease(binaries: Built[], outDir: string, meta: Omit<Manifest, "files">): Manifest {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const when = new Date(meta.buildDate);
  const files: ManifestFile[] = [];
  for (const { target, file, sameRuntimeAs } of binaries) {
    const windows = target.startsWith("windows-");
    const entry = { name: windows ? "msm.exe" : "msm", data: readFileSync(file), mode: 0o755 };
    const bytes = windows ? zip([entry], when) : tarGz([entry], when);
    const name = archiveName(meta.version, target);
    writeFileSync(join(outDir, name), bytes);
    files.push({ name, target, sha256: sha256(bytes), size: bytes.length, ...(sameRuntimeAs ? { sameRuntimeAs } : {}) });
  }
  writeFileSync(join(outDir, "SHA256SUMS"), files.map((f) => `${f.sha256}  ${f.name}\n`).join(""));
  const manifest: Manifest = { ...meta, files };
  writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

