import { expect, test } from "bun:test";
import { createUi, type UiSupervisor } from "../../../src/supervisor/web/app.ts";
import type { SupervisorStatus } from "../../../src/lib/contracts/supervisor-api.ts";

const PORT = 45678;

/** The supervisor's side the dashboard calls, counting status probes. */
function supervisor(status: () => SupervisorStatus) {
  const calls = { status: 0 };
  const sup: UiSupervisor = {
    port: PORT,
    status: async () => {
      calls.status++;
      return status();
    },
    stop: async (name: string) => ({ name, stopped: true, sessions: 0 }),
    restart: async () => ({ pid: 1, port: 1, url: "", transport: "http" }) as never,
    logs: () => [],
  };
  return { sup, calls };
}

const snapshot = (): SupervisorStatus => ({
  supervisor: { pid: 1, port: PORT, version: "t", startedAt: new Date().toISOString(), uptimeSeconds: 1, home: "/h" },
  targets: [
    {
      name: "fs",
      kind: "external",
      state: "running",
      pid: 10,
      port: 11,
      transport: "http",
      url: null,
      uptimeSeconds: 5,
      restarts: 0,
      sessions: 2,
      connections: 2,
      requests: 7,
      rssBytes: 1000,
      idleMinutes: 0,
      note: null,
      lastLog: [],
      version: "t",
      // What a hosted target carries once the host work lands: rendered as rows under it when present.
      children: [
        {
          project: "/p/alpha",
          share: "project" as const,
          state: "running" as const,
          pid: 12,
          uptimeSeconds: 4,
          restarts: 0,
          sessions: 1,
          rssBytes: 500,
          note: null,
          lastStderr: [],
        },
      ],
    } as SupervisorStatus["targets"][number],
  ],
});

async function loggedIn(ui: ReturnType<typeof createUi>) {
  const login = await ui.fetch(new Request(ui.loginUrl(), { headers: { host: `127.0.0.1:${PORT}` } }));
  expect(login.status).toBe(200);
  return login.headers.get("set-cookie")!.split(";")[0]!;
}

test("many viewers polling at once cost one status probe per snapshot, and children pass through", async () => {
  const { sup, calls } = supervisor(snapshot);
  const ui = createUi(sup);
  try {
    const cookie = await loggedIn(ui);
    const get = () => ui.fetch(new Request(`http://127.0.0.1:${PORT}/ui/api/status`, { headers: { host: `127.0.0.1:${PORT}`, cookie } }));
    const answers = await Promise.all(Array.from({ length: 50 }, get));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(calls.status).toBe(1);
    const body = (await answers[0]!.json()) as { status: SupervisorStatus; history: Record<string, unknown[]> };
    expect((body.status.targets[0] as unknown as { children: unknown[] }).children).toEqual([
      {
        project: "/p/alpha",
        share: "project" as const,
        state: "running" as const,
        pid: 12,
        uptimeSeconds: 4,
        restarts: 0,
        sessions: 1,
        rssBytes: 500,
        note: null,
        lastStderr: [],
      },
    ]);
    expect(body.history.fs).toHaveLength(1);
    // A second round within the snapshot's age is still the same probe.
    await Promise.all(Array.from({ length: 20 }, get));
    expect(calls.status).toBe(1);
  } finally {
    ui.dispose();
  }
});

test("a login ticket works once; the page carries the session's CSRF token; a POST needs it and our Origin", async () => {
  const { sup } = supervisor(snapshot);
  const ui = createUi(sup);
  try {
    const url = ui.loginUrl();
    const host = `127.0.0.1:${PORT}`;
    const first = await ui.fetch(new Request(url, { headers: { host } }));
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('http-equiv="refresh"');
    expect((await ui.fetch(new Request(url, { headers: { host } }))).status).toBe(401);
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    const page = await ui.fetch(new Request(`http://${host}/`, { headers: { host, cookie } }));
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const csrf = /name="msm-csrf" content="([^"]+)"/.exec(await page.text())![1]!;
    const post = (headers: Record<string, string>) =>
      ui.fetch(new Request(`http://${host}/ui/api/daemons/fs/stop`, { method: "POST", headers: { host, cookie, ...headers } }));
    expect((await post({ "x-msm-csrf": csrf })).status).toBe(403); // no Origin
    expect((await post({ origin: `http://${host}` })).status).toBe(403); // no token
    expect((await post({ origin: `http://${host}`, "x-msm-csrf": csrf })).status).toBe(200);
  } finally {
    ui.dispose();
  }
});
