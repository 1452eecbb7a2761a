import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, parseConfig, readConfig, resolveTarget, targetNames } from "../../../src/lib/config.ts";
import { MsmError } from "../../../src/lib/errors.ts";

function configError(text: string): MsmError {
  try {
    parseConfig(text, "config.json");
  } catch (error) {
    expect(error).toBeInstanceOf(MsmError);
    return error as MsmError;
  }
  throw new Error("expected parseConfig to fail");
}

describe("config.json", () => {
  test("an absent file means defaults", () => {
    const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT!, "cfg-"));
    const config = loadConfig(join(dir, "config.json"));
    expect(config.supervisor.port).toBe(3199);
    expect(resolveTarget(config, "memory")).toMatchObject({ kind: "builtin", port: 3100, path: "/mcp" });
  });

  test("external targets (a transport set) get defaults for args, env and path", () => {
    const config = parseConfig(
      JSON.stringify({
        targets: { code: { command: "uvx", args: ["x", "--port", "{port}"], transport: "streamable-http" }, legacy: { command: "y", transport: "sse" } },
      }),
    );
    expect(resolveTarget(config, "code")).toMatchObject({ kind: "external", command: "uvx", transport: "streamable-http", path: "/mcp", env: {}, port: 0 });
    expect(resolveTarget(config, "legacy")).toMatchObject({ transport: "sse", path: "/sse" });
  });

  test("a command without a transport is a stdio server msm hosts, shared per project by default", () => {
    const config = parseConfig(
      JSON.stringify({
        targets: {
          fs: { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "{project}"] },
          thinking: { command: "npx", args: ["x"], share: "global" },
          browser: {
            command: "npx",
            args: ["@playwright/mcp"],
            share: "session",
            idleMinutes: 0.5,
            startTimeoutSeconds: 5,
            env: { A: "{project}" },
            cwd: "{project}",
          },
        },
      }),
    );
    expect(resolveTarget(config, "fs")).toMatchObject({
      kind: "hosted",
      share: "project",
      startTimeoutSeconds: 60,
      childIdleMs: 600_000,
      transport: "streamable-http",
      path: "/mcp",
    });
    expect(resolveTarget(config, "thinking")).toMatchObject({ kind: "hosted", share: "global", childIdleMs: 0 });
    expect(resolveTarget(config, "browser")).toMatchObject({ kind: "hosted", share: "session", childIdleMs: 30_000, startTimeoutSeconds: 5, cwd: "{project}" });
    expect(configError(JSON.stringify({ targets: { fs: { command: "x", share: "team" } } })).message).toContain("targets.fs.share");
    expect(configError(JSON.stringify({ targets: { fs: { command: "x", args: ["{project}"], share: "global" } } })).message).toContain(
      'uses "{project}" but "share" is "global"',
    );
  });

  test("a target that names a port but no transport is an error that says to add one", () => {
    const message = configError(JSON.stringify({ targets: { code: { command: "uvx", args: ["code-index-mcp", "--port", "{port}"] } } })).message;
    expect(message).toContain('targets.code names "{port}" but has no "transport"');
    expect(message).toContain('"transport": "streamable-http"');
    expect(configError(JSON.stringify({ targets: { code: { command: "x", env: { PORT: "{port}" } } } })).message).toContain('names "{port}"');
    expect(configError(JSON.stringify({ targets: { code: { command: "x", port: 3101 } } })).message).toContain('sets "port" but has no "transport"');
  });

  test("malformed JSON is a clear error", () => {
    const error = configError("{ targets: ");
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain("config.json is not valid JSON");
  });

  test("an unknown key is an error that names it", () => {
    expect(configError(JSON.stringify({ supervisor: { port: 1, colour: "red" } })).message).toContain('unknown key "supervisor.colour"');
    expect(configError(JSON.stringify({ targetz: {} })).message).toContain('unknown key "targetz"');
  });

  test("a wrong type names the key", () => {
    expect(configError(JSON.stringify({ targets: { memory: { port: "3100" } } })).message).toContain("targets.memory");
    expect(configError(JSON.stringify({ supervisor: { port: 70000 } })).message).toContain("supervisor.port");
  });

  test("the built-in memory target only takes a port", () => {
    expect(configError(JSON.stringify({ targets: { memory: { command: "node" } } })).message).toContain("targets.memory is built in");
  });

  test("\"supervisor\" is msm's own name, not a target's", () => {
    expect(configError(JSON.stringify({ targets: { supervisor: { command: "x" } } })).message).toContain('"supervisor" is msm\'s own name');
  });

  test("an unknown target is an error listing the known ones", () => {
    const config = parseConfig(JSON.stringify({ targets: { code: { command: "c" } } }));
    expect(() => resolveTarget(config, "nope")).toThrow(/Unknown target "nope". Known targets: memory, code/);
  });

  test("an unreadable file says so, and memory still resolves on its defaults", () => {
    const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT!, "cfg-"));
    writeFileSync(join(dir, "config.json"), "{}");
    const config = loadConfig(dir);
    expect(config.error).toContain(`Cannot read ${dir}`);
    expect(resolveTarget(config, "memory")).toMatchObject({ kind: "builtin", port: 3100 });
  });

  test("a typo in one target leaves the others (and memory) valid; the broken one names its key", () => {
    const config = readConfig(
      JSON.stringify({
        targets: {
          memory: { port: 4100 },
          good: { command: "x", transport: "streamable-http" },
          typo: { command: "y", helth: "mcp", transport: "streamable-http" },
          "bad name!": { command: "z", transport: "streamable-http" },
        },
      }),
    );
    expect(Object.keys(config.targets)).toEqual(["memory", "good"]);
    expect(config.broken.typo).toContain('unknown key "targets.typo.helth"');
    expect(config.broken["bad name!"]).toContain("target names use letters");
    expect(config.error).toBeUndefined();
    expect(resolveTarget(config, "memory").port).toBe(4100);
    expect(resolveTarget(config, "good").kind).toBe("external");
    expect(() => resolveTarget(config, "typo")).toThrow(/Target "typo" cannot start: .*targets\.typo\.helth/);
    expect(targetNames(config)).toEqual(["memory", "good"]);
  });

  test("a file that is not JSON: memory on its defaults, every other target names the file's error", () => {
    const config = readConfig("{ targets: ", "config.json");
    expect(config.error).toContain("config.json is not valid JSON");
    expect(resolveTarget(config, "memory")).toMatchObject({ kind: "builtin", port: 3100 });
    expect(() => resolveTarget(config, "code")).toThrow(/Target "code" cannot start: config.json is not valid JSON/);
  });

  test("a broken memory entry still runs memory on its defaults (and is reported)", () => {
    const config = readConfig(JSON.stringify({ targets: { memory: { port: "x" } } }));
    expect(config.broken.memory).toContain("targets.memory.port");
    expect(resolveTarget(config, "memory").port).toBe(3100);
  });

  test("startTimeoutSeconds: default 60 s, fractions allowed", () => {
    const config = parseConfig(
      JSON.stringify({
        targets: { slow: { command: "x", startTimeoutSeconds: 1.5, transport: "streamable-http" }, plain: { command: "y", transport: "streamable-http" } },
      }),
    );
    expect(resolveTarget(config, "slow").startTimeoutMs).toBe(1500);
    expect(resolveTarget(config, "plain").startTimeoutMs).toBe(60_000);
    expect(resolveTarget(config, "memory").startTimeoutMs).toBe(60_000);
    expect(readConfig(JSON.stringify({ targets: { z: { command: "x", startTimeoutSeconds: 0, transport: "streamable-http" } } })).broken.z).toContain(
      "targets.z.startTimeoutSeconds: must be more than 0",
    );
  });
});
