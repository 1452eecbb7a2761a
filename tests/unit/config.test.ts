import { describe, expect, test } from "bun:test";
import { parseConfig, resolveTarget, targetNames } from "../../src/lib/config.ts";

describe("config", () => {
  test("defaults: manager API on 3199, memory on 3100, idle shutdown off", () => {
    const config = parseConfig("{}");
    expect(config.supervisor.port).toBe(3199);
    expect(resolveTarget(config, "memory")).toMatchObject({ kind: "builtin", port: 3100, idleMinutes: 0 });
  });

  test("idleMinutes per target (fractions allowed); external health defaults to http", () => {
    const config = parseConfig(
      JSON.stringify({ targets: { memory: { idleMinutes: 30 }, code: { command: "uvx", args: ["x", "--port", "{port}"], transport: "streamable-http", idleMinutes: 0.5 } } }),
    );
    expect(resolveTarget(config, "memory").idleMinutes).toBe(30);
    expect(resolveTarget(config, "code")).toMatchObject({ kind: "external", idleMinutes: 0.5, health: "http", path: "/mcp", port: 0 });
    expect(targetNames(config)).toEqual(["memory", "code"]);
  });

  test("a target with a url is remote: headers and a hand-registered OAuth client optional; unknown keys named", () => {
    const config = parseConfig(JSON.stringify({ targets: { r: { url: "https://mcp.example.com/mcp", headers: { "X-Team": "core" }, oauth: { clientId: "id" } } } }));
    expect(resolveTarget(config, "r")).toMatchObject({ kind: "remote", url: "https://mcp.example.com/mcp", headers: { "X-Team": "core" }, oauth: { clientId: "id" }, port: 0, path: "/mcp" });
    expect(() => parseConfig(JSON.stringify({ targets: { r: { url: "https://x/mcp", command: "node" } } }))).toThrow(/targets\.r\.command/);
    expect(() => parseConfig(JSON.stringify({ targets: { r: { url: "not a url" } } }))).toThrow(/targets\.r\.url/);
  });

  test("a client-credentials OAuth client needs a secret or a private key; the key is for that grant only", () => {
    const remote = (oauth: object) => JSON.stringify({ targets: { r: { url: "https://x/mcp", oauth } } });
    expect(resolveTarget(parseConfig(remote({ clientId: "id" })), "r")).toMatchObject({ oauth: { grant: "authorization_code" } });
    const jwt = { clientId: "id", grant: "client_credentials", privateKeyFile: "key.pem", algorithm: "ES256" };
    expect(resolveTarget(parseConfig(remote(jwt)), "r")).toMatchObject({ oauth: jwt });
    expect(() => parseConfig(remote({ clientId: "id", grant: "client_credentials" }))).toThrow(/targets\.r\.oauth\.grant: "grant": "client_credentials" needs a clientSecret or a privateKeyFile/);
    expect(() => parseConfig(remote({ clientId: "id", privateKeyFile: "key.pem" }))).toThrow(/targets\.r\.oauth\.privateKeyFile/);
    expect(() => parseConfig(remote({ clientId: "id", grant: "password", clientSecret: "s" }))).toThrow(/targets\.r\.oauth\.grant: must be one of/);
  });

  test("mistakes are named", () => {
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { idleMinutes: -1 } } }))).toThrow(/targets\.memory\.idleMinutes/);
    expect(() => parseConfig(JSON.stringify({ targets: { code: { command: "x", transport: "streamable-http", health: "ping" } } }))).toThrow(/targets\.code\.health/);
    expect(() => parseConfig(JSON.stringify({ supervisor: { port: 3199, idle: 1 } }))).toThrow(/unknown key "supervisor\.idle"/);
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { command: "x" } } }))).toThrow(/"port", "idleMinutes", "database"/);
  });
});
