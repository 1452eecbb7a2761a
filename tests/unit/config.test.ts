import { describe, expect, test } from "bun:test";
import { parseConfig, readConfig, resolveTarget, targetNames } from "../../src/lib/config.ts";

describe("config", () => {
  test("defaults: manager API on 3199, memory on 3100, idle shutdown off", () => {
    const config = parseConfig("{}");
    expect(config.supervisor.port).toBe(3199);
    expect(resolveTarget(config, "memory")).toMatchObject({ kind: "builtin", port: 3100, daemonIdleMs: 0, database: undefined, databaseError: undefined });
  });

  test("a daemon's idle stop per target (fractions allowed), in ms once resolved; the old idleMinutes key still works", () => {
    const config = parseConfig(
      JSON.stringify({
        targets: {
          memory: { idleMinutes: 30 },
          code: { command: "uvx", args: ["x", "--port", "{port}"], transport: "streamable-http", daemonIdleMinutes: 0.5 },
          both: { command: "uvx", transport: "sse", idleMinutes: 1, daemonIdleMinutes: 2 },
        },
      }),
    );
    expect(resolveTarget(config, "memory").daemonIdleMs).toBe(30 * 60_000);
    expect(resolveTarget(config, "code")).toMatchObject({ kind: "external", daemonIdleMs: 30_000, health: "http", path: "/mcp", port: 0 });
    // The new key wins over the old one.
    expect(resolveTarget(config, "both").daemonIdleMs).toBe(2 * 60_000);
    expect(targetNames(config)).toEqual(["memory", "code", "both"]);
  });

  test("a hosted server: a child's idle stop and the host's are two keys; the old idleMinutes sets both", () => {
    const hosted = (entry: object) => resolveTarget(parseConfig(JSON.stringify({ targets: { fs: { command: "npx", ...entry } } })), "fs");
    expect(hosted({})).toMatchObject({ kind: "hosted", childIdleMs: 10 * 60_000, daemonIdleMs: 10 * 60_000 });
    expect(hosted({ share: "global" })).toMatchObject({ childIdleMs: 0, daemonIdleMs: 0 });
    expect(hosted({ idleMinutes: 3 })).toMatchObject({ childIdleMs: 3 * 60_000, daemonIdleMs: 3 * 60_000 });
    expect(hosted({ idleMinutes: 3, childIdleMinutes: 1, daemonIdleMinutes: 0 })).toMatchObject({ childIdleMs: 60_000, daemonIdleMs: 0 });
    expect(hosted({ childIdleMinutes: 0.5 })).toMatchObject({ childIdleMs: 30_000, daemonIdleMs: 10 * 60_000 });
  });

  test("memory keeps its database through resolution; a broken entry that names one says so", () => {
    const url = "postgres://team@db.example/memory";
    expect(resolveTarget(parseConfig(JSON.stringify({ targets: { memory: { database: url } } })), "memory")).toMatchObject({
      database: url,
      databaseError: undefined,
    });
    const broken = readConfig(JSON.stringify({ targets: { memory: { database: "mysql://x", port: 1 } } }));
    expect(resolveTarget(broken, "memory")).toMatchObject({ database: undefined, databaseError: expect.stringContaining("targets.memory.database") });
    const typo = readConfig(JSON.stringify({ targets: { memory: { port: "x" } } }));
    expect(resolveTarget(typo, "memory")).toMatchObject({ database: undefined, databaseError: undefined, port: 3100 });
  });

  test("a target with a url is remote: headers and a hand-registered OAuth client optional; unknown keys named", () => {
    const config = parseConfig(
      JSON.stringify({ targets: { r: { url: "https://mcp.example.com/mcp", headers: { "X-Team": "core" }, oauth: { clientId: "id" } } } }),
    );
    expect(resolveTarget(config, "r")).toMatchObject({
      kind: "remote",
      url: "https://mcp.example.com/mcp",
      headers: { "X-Team": "core" },
      oauth: { clientId: "id" },
      port: 0,
      path: "/mcp",
    });
    expect(() => parseConfig(JSON.stringify({ targets: { r: { url: "https://x/mcp", command: "node" } } }))).toThrow(/targets\.r\.command/);
    expect(() => parseConfig(JSON.stringify({ targets: { r: { url: "not a url" } } }))).toThrow(/targets\.r\.url/);
  });

  test("a client-credentials OAuth client needs a secret or a private key; the key is for that grant only", () => {
    const remote = (oauth: object) => JSON.stringify({ targets: { r: { url: "https://x/mcp", oauth } } });
    expect(resolveTarget(parseConfig(remote({ clientId: "id" })), "r")).toMatchObject({ oauth: { grant: "authorization_code" } });
    const jwt = { clientId: "id", grant: "client_credentials", privateKeyFile: "key.pem", algorithm: "ES256" };
    expect(resolveTarget(parseConfig(remote(jwt)), "r")).toMatchObject({ oauth: jwt });
    expect(() => parseConfig(remote({ clientId: "id", grant: "client_credentials" }))).toThrow(
      /targets\.r\.oauth\.grant: "grant": "client_credentials" needs a clientSecret or a privateKeyFile/,
    );
    expect(() => parseConfig(remote({ clientId: "id", privateKeyFile: "key.pem" }))).toThrow(/targets\.r\.oauth\.privateKeyFile/);
    expect(() => parseConfig(remote({ clientId: "id", grant: "password", clientSecret: "s" }))).toThrow(/targets\.r\.oauth\.grant: must be one of/);
  });

  test("mistakes are named", () => {
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { idleMinutes: -1 } } }))).toThrow(/targets\.memory\.idleMinutes/);
    expect(() => parseConfig(JSON.stringify({ targets: { code: { command: "x", transport: "streamable-http", health: "ping" } } }))).toThrow(
      /targets\.code\.health/,
    );
    expect(() => parseConfig(JSON.stringify({ supervisor: { port: 3199, idle: 1 } }))).toThrow(/unknown key "supervisor\.idle"/);
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { command: "x" } } }))).toThrow(/"port", "daemonIdleMinutes", "idleMinutes", "database"/);
  });
});
