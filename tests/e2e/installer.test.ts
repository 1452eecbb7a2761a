import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageRelease } from "../../release/package.ts";
import { Sandbox } from "../helpers/sandbox.ts";
import { buildVersion } from "../helpers/versions.ts";

const INSTALL_SH = resolve(import.meta.dir, "../../install.sh");

/**
 * install.sh against a release folder served over loopback HTTP, packaged by the same code as `npm run release`
 * (release/package.ts) from this machine's binary built as two versions.
 */
describe("install.sh", () => {
  let sandbox: Sandbox;
  let server: ReturnType<typeof Bun.serve>;
  let base: string;

  beforeAll(async () => {
    sandbox = new Sandbox();
    const meta = { commit: "test", buildDate: "2026-01-01T00:00:00Z", bun: Bun.version };
    // Only the archive this machine's installer asks for: packaging all of them is the release build's job.
    const target = Bun.spawnSync(["sh", INSTALL_SH, "--print-target"]).stdout.toString().trim();
    expect(target).toMatch(/^(linux|darwin)-(x64|arm64)(-musl)?(-baseline)?$/);
    for (const version of ["1.0.0", "2.0.0"]) {
      const binary = await buildVersion(version);
      packageRelease([{ target, file: binary }], join(sandbox.root, "www", version), { ...meta, version });
    }
    // A tampered copy of 2.0.0: one byte of every archive flipped, SHA256SUMS left as published.
    cpSync(join(sandbox.root, "www", "2.0.0"), join(sandbox.root, "www", "tampered"), { recursive: true });
    for (const file of readdirSync(join(sandbox.root, "www", "tampered")).filter((f) => f.endsWith(".tar.gz"))) {
      const path = join(sandbox.root, "www", "tampered", file);
      const bytes = readFileSync(path);
      bytes[bytes.length >> 1]! ^= 0xff;
      writeFileSync(path, bytes);
    }
    const www = join(sandbox.root, "www");
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const path = join(www, decodeURIComponent(new URL(request.url).pathname));
        if (!path.startsWith(www + "/") || !existsSync(path) || !statSync(path).isFile()) return new Response("not found", { status: 404 });
        return new Response(Bun.file(path));
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  }, 120_000);

  afterAll(async () => {
    server?.stop(true);
    await sandbox?.cleanup();
  });

  async function install(folder: string, args: string[] = [], env: Record<string, string> = {}) {
    const child = Bun.spawn(["sh", INSTALL_SH, ...args], {
      env: { ...sandbox.env, MSM_INSTALL_BASE_URL: `${base}/${folder}`, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  }

  function installedVersion(file: string): string {
    return Bun.spawnSync([file, "--version"], { env: sandbox.env }).stdout.toString().trim();
  }

  const bin = () => join(sandbox.home, ".local", "bin", "msm");

  test("installs into ~/.local/bin, verified against SHA256SUMS, and says what to run next", async () => {
    const result = await install("1.0.0");
    expect(result.code).toBe(0);
    expect(installedVersion(bin())).toStartWith("1.0.0 (commit");
    expect(statSync(bin()).mode & 0o111).toBe(0o111);
    expect(result.stderr).toContain(`installed ${bin()}: 1.0.0`);
    expect(result.stderr).toContain("next: msm install");
  }, 60_000);

  test("upgrades in place, and says running daemons keep the old version until restarted", async () => {
    const result = await install("2.0.0");
    expect(result.code).toBe(0);
    expect(installedVersion(bin())).toStartWith("2.0.0");
    expect(result.stderr).toContain("upgraded");
    expect(result.stderr).toContain("msm restart --all");
    expect(readdirSync(join(sandbox.home, ".local", "bin"))).toEqual(["msm"]);
  }, 60_000);

  test("refuses a tampered archive and leaves the installed binary alone", async () => {
    const result = await install("tampered");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("checksum mismatch");
    expect(result.stderr).toContain("Nothing was installed");
    expect(installedVersion(bin())).toStartWith("2.0.0");
    expect(readdirSync(join(sandbox.home, ".local", "bin"))).toEqual(["msm"]);
  }, 60_000);

  test("--version picks that release; MSM_INSTALL_DIR picks the folder; a missing version is a clear error", async () => {
    const dir = join(sandbox.root, "elsewhere");
    const ok = await install("1.0.0", ["--version", "1.0.0"], { MSM_INSTALL_DIR: dir });
    expect(ok.code).toBe(0);
    expect(installedVersion(join(dir, "msm"))).toStartWith("1.0.0");
    expect(ok.stderr).toContain("is not on your PATH");
    const missing = await install("1.0.0", ["--version", "3.0.0"], { MSM_INSTALL_DIR: dir });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("has no build for");
  }, 60_000);
});
