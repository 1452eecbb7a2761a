import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createLogger } from "../../src/lib/log.ts";
import { ensureHome, paths } from "../../src/lib/paths.ts";
import { loadToken } from "../../src/lib/token.ts";

// Crash loops in milliseconds, not half a minute: read by keeper.ts when it loads, so set before importing it.
process.env.MSM_BACKOFF_MS = "20,20,20,20,20";
const { Keeper, BACKOFF_MS } = await import("../../src/supervisor/keeper.ts");
const { Supervisor } = await import("../../src/supervisor/supervisor.ts");
const { createManagerApp } = await import("../../src/supervisor/api.ts");
const { resolveTarget, parseConfig } = await import("../../src/lib/config.ts");
const { ROUTES, routeUrl } = await import("../../src/lib/contracts/supervisor-api.ts");
// Read once at load; do not leak into the sandboxes e2e tests build from process.env later in this run.
delete process.env.MSM_BACKOFF_MS;

const log = createLogger({ stderr: false });
let token = "";

beforeAll(() => {
  ensureHome();
  writeFileSync(paths.config(), JSON.stringify({ supervisor: { port: 0 }, targets: { memory: { port: 0 } } }));
  token = loadToken();
});

async function until<T>(check: () => T, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(10);
  }
}

describe("keeper", () => {
  test("a daemon that keeps dying is retried with backoff, then failed with its last log lines", async () => {
    expect(BACKOFF_MS).toEqual([20, 20, 20, 20, 20]);
    const config = parseConfig(
      JSON.stringify({ targets: { crashy: { command: "sh", args: ["-c", "echo 'boom: bad flag'; exit 3"], transport: "streamable-http" } } }),
    );
    const keeper = new Keeper(resolveTarget(config, "crashy"), log, token);
    const first = await keeper.ensure(5_000).catch((e) => e);
    expect(first.code).toBe("DAEMON_START_FAILED");
    expect(first.message).toContain("exit");
    await until(() => keeper.state === "failed");
    const status = keeper.status();
    expect(status.note).toContain("crashed 6 times in a row");
    expect(status.lastLog.join("\n")).toContain("boom: bad flag");
    expect(status.restarts).toBe(5);
    const refused = await keeper.ensure(5_000).catch((e) => e);
    expect(refused.code).toBe("DAEMON_FAILED");
    expect(refused.message).toContain("msm restart crashy");
    expect(refused.message).toContain("boom: bad flag");
    keeper.dispose();
  });

  test("a command that does not exist fails with a message naming it", async () => {
    const config = parseConfig(JSON.stringify({ targets: { ghost: { command: "/nonexistent/msm-test-server", transport: "streamable-http" } } }));
    const keeper = new Keeper(resolveTarget(config, "ghost"), log, token);
    const error = await keeper.ensure(5_000).catch((e) => e);
    expect(error.code).toBe("DAEMON_START_FAILED");
    expect(error.message).toContain("/nonexistent/msm-test-server");
    await keeper.stop();
    expect(keeper.state).toBe("stopped");
    // Stopped means stopped: the retry the failed start had scheduled is cancelled.
    await Bun.sleep(100);
    expect(keeper.state).toBe("stopped");
  });
});

describe("manager API", () => {
  test("token on everything but /health; errors come back as {code, message}", async () => {
    const supervisor = new Supervisor(log, token);
    const app = createManagerApp(supervisor, token);
    const auth = { authorization: `Bearer ${token}` };

    expect((await app.request("/health")).status).toBe(200);
    expect((await app.request("/status")).status).toBe(401);
    expect((await app.request("/status", { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    expect((await app.request("/status", { headers: { ...auth, origin: "http://evil.example" } })).status).toBe(403);

    const status = await app.request("/status", { headers: auth });
    expect(status.status).toBe(200);
    const body = (await status.json()) as { supervisor: { pid: number }; targets: { name: string; state: string }[] };
    expect(body.supervisor.pid).toBe(process.pid);
    expect(body.targets).toContainEqual(expect.objectContaining({ name: "memory", state: "stopped" }));

    const unknown = await app.request("/daemons/nope/ensure", { method: "POST", headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "UNKNOWN_TARGET", message: expect.stringContaining('Unknown target "nope"') });

    const stop = await app.request("/daemons/memory/stop", { method: "POST", headers: auth });
    expect(await stop.json()).toEqual({ name: "memory", stopped: false, sessions: null });
  });

  test("every route of the contract (lib/contracts/supervisor-api.ts) is served: each answers JSON, none is Hono's 404", async () => {
    const supervisor = new Supervisor(log, token);
    supervisor.onExit = () => {};
    const app = createManagerApp(supervisor, token);
    for (const [route, spec] of Object.entries(ROUTES)) {
      const url = routeUrl(route as keyof typeof ROUTES, { name: "nope", lines: 1, timeoutMs: 10 } as never);
      const response = await app.request(url, { method: spec.method, headers: { authorization: `Bearer ${token}` } });
      expect({ route, type: response.headers.get("content-type") }).toEqual({ route, type: expect.stringContaining("application/json") });
    }
  });
});
