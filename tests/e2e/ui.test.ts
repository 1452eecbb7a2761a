// `msm ui` as a person uses it: a real headless Chromium opens the one-time login URL, reads the live status and
// browses the memory graph a session wrote through `msm proxy`; and everything else that asks gets nothing.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Browser, CHROMIUM } from "../helpers/browser.ts";
import { Sandbox, call, msm, openSession, waitFor } from "../helpers/sandbox.ts";
import { PG_PASSWORD, postgresAvailable, usePostgres } from "../helpers/postgres.ts";

const EVERYTHING = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");
/** Screenshots of the main views, kept after the run for a person to look at (gitignored). */
const ARTIFACTS = resolve(import.meta.dir, "../artifacts");
const SLOW = 120_000;

const config = {
  supervisor: { port: 0 },
  targets: {
    memory: { port: 0 },
    everything: { command: "node", args: [EVERYTHING, "streamableHttp"], env: { PORT: "{port}" }, health: "mcp", transport: "streamable-http" },
    broken: { command: "sh", args: ["-c", "echo 'boom: cannot open the index'; exit 3"], transport: "streamable-http" },
  },
};

async function loginUrl(sandbox: Sandbox): Promise<string> {
  const out = await msm(sandbox, ["ui", "--no-open"]);
  expect(out.code).toBe(0);
  const url = out.stdout.trim();
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/login\?t=[\w-]{20,}$/);
  return url;
}

/** A session cookie the way a browser gets it: the login URL answers with Set-Cookie and a page that moves on to /. */
async function login(url: string): Promise<string> {
  const response = await fetch(url, { redirect: "manual", headers: { "sec-fetch-site": "cross-site" } });
  expect(response.status).toBe(200);
  const cookie = response.headers.get("set-cookie")!;
  expect(cookie).toContain("HttpOnly");
  expect(cookie).toContain("SameSite=Strict");
  return cookie.split(";")[0]!;
}

describe.skipIf(!CHROMIUM)("msm ui in a real browser", () => {
  test(
    "login URL → live status with the right pids, log tail, restart button; explorer finds, opens and draws an entity",
    async () => {
      await using sandbox = new Sandbox(config);
      let browser: Browser | undefined;
      try {
        mkdirSync(ARTIFACTS, { recursive: true });
        // A crash-looping target, with a short backoff the supervisor inherits, to show a failed row with its log.
        await msm(sandbox, ["restart", "broken"], { MSM_BACKOFF_MS: "50,50,50,50,50" });
        expect((await msm(sandbox, ["restart", "everything"])).code).toBe(0);

        // Memory written by editor sessions in two projects.
        const alpha = await openSession(sandbox, sandbox.project("alpha"));
        await call(alpha.client, "create_entities", {
          entities: [
            {
              name: "Ada Lovelace",
              entityType: "person",
              observations: ["Wrote the first published algorithm", "Worked with Babbage on the Analytical Engine"],
            },
            { name: "Charles Babbage", entityType: "person", observations: ["Designed the Difference Engine"] },
            { name: "Analytical Engine", entityType: "machine", observations: ["A proposed general-purpose computer"] },
            { name: "Note G", entityType: "document", observations: ["Computes Bernoulli numbers"] },
          ],
        });
        await call(alpha.client, "create_relations", {
          relations: [
            { from: "Ada Lovelace", to: "Charles Babbage", relationType: "collaborated with" },
            { from: "Ada Lovelace", to: "Note G", relationType: "wrote" },
            { from: "Charles Babbage", to: "Analytical Engine", relationType: "designed" },
            { from: "Note G", to: "Analytical Engine", relationType: "runs on" },
          ],
        });
        const beta = await openSession(sandbox, sandbox.project("beta"));
        await call(beta.client, "create_entities", { entities: [{ name: "beta service", entityType: "service", observations: ["Listens on 8080"] }] });

        const url = await loginUrl(sandbox);
        browser = await Browser.launch(sandbox.env);
        sandbox.track(browser.pid);
        const page = await browser.newPage();
        await page.goto(url);
        await page.waitFor(`location.pathname + location.search === "/" && document.querySelector('#targets')`, 15_000, "the dashboard after login");
        // The cookie is HttpOnly: the page's own script cannot read it.
        expect(await page.eval("document.cookie")).toBe("");

        const pidOf = (name: string) => page.eval<string>(`document.querySelector('tr[data-target="${name}"] td.pid')?.textContent ?? ""`);
        const memoryPid = sandbox.lock("memory")!.pid;
        const everythingPid = sandbox.lock("everything")!.pid;
        await page.waitFor(`document.querySelector('tr[data-target="memory"]')?.dataset.state === "running"`, 15_000, "memory row running");
        expect(await pidOf("memory")).toBe(String(memoryPid));
        await page.waitFor(`document.querySelector('tr[data-target="everything"]')?.dataset.state === "running"`, 15_000, "everything row running");
        expect(await pidOf("everything")).toBe(String(everythingPid));
        await page.waitFor(`document.querySelector('tr[data-target="broken"]')?.dataset.state === "failed"`, 30_000, "broken row failed");
        expect(await page.eval<string>(`document.querySelector('pre.lastlog')?.textContent`)).toContain("boom: cannot open the index");
        expect(await page.eval<string>(`document.querySelector('#supervisor').textContent`)).toContain(`supervisor pid ${sandbox.lock("supervisor")!.pid}`);

        // The log tail of a target.
        await page.eval(`document.querySelector('tr[data-target="memory"] button.logs').click()`);
        await page.waitFor(`document.querySelector('#log')?.textContent.includes("listening on")`, 10_000, "memory log tail");
        // The sparkline needs two samples, SAMPLE_EVERY_MS (5 s) apart.
        await page.waitFor(`document.querySelector('tr[data-target="memory"] svg.spark polyline')`, 30_000, "memory sparkline");
        await page.screenshot(join(ARTIFACTS, "status.png"));

        // Restart from the page: the same supervisor call as `msm restart` (a POST with Origin and CSRF token).
        await page.eval(`document.querySelector('tr[data-target="memory"] button.restart').click()`);
        const restarted = await waitFor(
          () => {
            const pid = sandbox.lock("memory")?.pid;
            return pid && pid !== memoryPid ? pid : undefined;
          },
          30_000,
          "memory restarted from the page",
        );
        await page.waitFor(`document.querySelector('tr[data-target="memory"] td.pid')?.textContent === "${restarted}"`, 15_000, "new pid on the page");

        // The explorer, addressed as /?q=TEXT: same matches as search_nodes, across both projects' databases.
        const origin = new URL(url).origin;
        await page.goto(`${origin}/?q=babbage`);
        await page.waitFor(`document.querySelectorAll('.result').length >= 2`, 15_000, "search results");
        const names = await page.eval<string[]>(`[...document.querySelectorAll('.result a')].map((a) => a.textContent)`);
        const official = await call<{ entities: { name: string }[] }>(alpha.client, "search_nodes", { query: "babbage" });
        expect(names).toEqual(official.entities.map((e) => e.name));
        await page.screenshot(join(ARTIFACTS, "search.png"));

        // Open the entity by clicking it, as a person would; its neighbours are drawn.
        await page.eval(`[...document.querySelectorAll('.result a')].find((a) => a.textContent === "Ada Lovelace").click()`);
        await page.waitFor(`document.querySelector('#entity-name')?.textContent.startsWith("Ada Lovelace")`, 15_000, "entity page");
        const text = await page.eval<string>("document.querySelector('main').textContent");
        expect(text).toContain("Wrote the first published algorithm");
        expect(text).toContain("collaborated with");
        await page.waitFor(`document.querySelector('svg.graph')`, 15_000, "graph");
        const drawn = await page.eval<string[]>(`[...document.querySelectorAll('svg.graph g.node')].map((g) => g.dataset.name).sort()`);
        expect(drawn).toEqual(["Ada Lovelace", "Analytical Engine", "Charles Babbage", "Note G"]);
        expect(await page.eval<number>(`document.querySelectorAll('svg.graph line').length`)).toBe(4);
        await page.screenshot(join(ARTIFACTS, "entity.png"));

        // A neighbour in the graph is a link: clicking its node opens it.
        await page.eval(`document.querySelector('svg.graph g.node[data-name="Note G"] circle').dispatchEvent(new MouseEvent("click", { bubbles: true }))`);
        await page.waitFor(`document.querySelector('#entity-name')?.textContent.startsWith("Note G")`, 15_000, "neighbour page");
        // The other project's database is listed too.
        await page.goto(`${origin}/?view=memory`);
        await page.waitFor(`document.querySelectorAll('.results li').length >= 2`, 15_000, "database list");
        const dbs = await page.eval<string>(`document.querySelector('.results').textContent`);
        expect(dbs).toContain("alpha");
        expect(dbs).toContain("beta");
        expect(page.errors).toEqual([]);
      } finally {
        await browser?.close();
      }
    },
    SLOW,
  );

  test(
    "no cookie, a foreign Host, a foreign Origin, a used ticket or a missing CSRF token get nothing",
    async () => {
      await using sandbox = new Sandbox(config);
      let browser: Browser | undefined;
      const foreign = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => new Response("<!doctype html><title>elsewhere</title>", { headers: { "content-type": "text/html" } }),
      });
      try {
        const url = await loginUrl(sandbox);
        const origin = new URL(url).origin;
        const port = new URL(url).port;
        const cookie = await login(url);
        const ok = await fetch(`${origin}/ui/api/status`, { headers: { cookie } });
        expect(ok.status).toBe(200);
        const memory = await msm(sandbox, ["restart", "memory"]);
        expect(memory.code).toBe(0);
        const memoryPid = sandbox.lock("memory")!.pid;

        const nothing = async (response: Response, status: number) => {
          expect(response.status).toBe(status);
          const body = await response.text();
          expect(body).not.toContain("memory");
          expect(body).not.toContain(String(memoryPid));
        };
        await nothing(await fetch(`${origin}/ui/api/status`), 401);
        await nothing(await fetch(`${origin}/`), 401);
        // The bearer token opens the manager API, not the dashboard.
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { authorization: `Bearer ${sandbox.token()}` } }), 401);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie, host: `evil.example:${port}` } }), 403);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie, host: `127.0.0.1:1` } }), 403);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie, origin: "http://evil.example" } }), 403);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie, origin: `http://127.0.0.1:${foreign.port}` } }), 403);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie, "sec-fetch-site": "same-site" } }), 403);
        await nothing(await fetch(url, { redirect: "manual" }), 401); // a login URL works once
        await nothing(await fetch(`${origin}/ui/api/daemons/memory/restart`, { method: "POST", headers: { cookie, origin } }), 403); // no CSRF token
        await nothing(await fetch(`${origin}/ui/api/daemons/memory/restart`, { method: "POST", headers: { cookie, origin, "x-msm-csrf": "guess" } }), 403);
        await nothing(await fetch(`${origin}/ui/api/status`, { headers: { cookie: `msm_ui_${port}=forged` } }), 401);

        // In a real browser: a page on another local port (same site, other origin) holding the session cookie.
        browser = await Browser.launch(sandbox.env);
        sandbox.track(browser.pid);
        const page = await browser.newPage();
        // The login link followed from another page (a chat, a web terminal) still logs in.
        await page.goto(`http://127.0.0.1:${foreign.port}/`);
        await page.eval(`location.href = ${JSON.stringify(await loginUrl(sandbox))}`);
        await page.waitFor(`location.port === "${port}" && document.querySelector('tr[data-target="memory"]')`, 15_000, "logged in from a link elsewhere");
        await page.goto(`http://127.0.0.1:${foreign.port}/`);
        const attempts = await page.eval<string[]>(`Promise.all([
        fetch("${origin}/ui/api/status", { credentials: "include" }).then((r) => "read " + r.status, (e) => "blocked"),
        fetch("${origin}/ui/api/status", { credentials: "include", mode: "no-cors" }).then((r) => "opaque " + r.type, (e) => "blocked"),
        fetch("${origin}/ui/api/daemons/memory/restart", { method: "POST", credentials: "include", mode: "no-cors" }).then((r) => "opaque " + r.type, (e) => "blocked"),
      ])`);
        for (const attempt of attempts) expect(attempt).toMatch(/^(blocked|opaque opaque)$/);
        expect(sandbox.lock("memory")!.pid).toBe(memoryPid);
        expect((await msm(sandbox, ["status", "--json"])).stdout).toContain(`"restarts": 0`);
      } finally {
        foreign.stop(true);
        await browser?.close();
      }
    },
    SLOW,
  );
});

describe.skipIf(!CHROMIUM)("a 100,000-entity memory graph in the browser", () => {
  test(
    "search pages, a hub's page and its bounded neighbourhood render without a frozen page",
    async () => {
      await using sandbox = new Sandbox(config);
      let browser: Browser | undefined;
      try {
        const { seedBigGraph } = await import("../helpers/big-graph.ts");
        const started = performance.now();
        seedBigGraph(join(sandbox.home, ".claude", "memory.db"), 100_000);
        process.stderr.write(`seeded 100,000 entities in ${Math.round(performance.now() - started)} ms\n`);

        browser = await Browser.launch(sandbox.env);
        sandbox.track(browser.pid);
        const page = await browser.newPage();
        await page.goto(await loginUrl(sandbox));
        const origin = new URL(await page.eval<string>("location.href")).origin;

        const timed = async (what: string, url: string, ready: string) => {
          const t0 = performance.now();
          await page.goto(url);
          await page.waitFor(ready, 30_000, what);
          process.stderr.write(`100k: ${what} shown in ${Math.round(performance.now() - t0)} ms\n`);
        };
        // A common word matches most of the graph: one page of results, and a way to the next.
        await timed("search 'typescript'", `${origin}/?q=typescript`, `document.querySelectorAll('.result').length > 0`);
        expect(await page.eval<number>(`document.querySelectorAll('.result').length`)).toBe(50);
        expect(await page.eval<boolean>(`[...document.querySelectorAll('button')].some((b) => b.textContent === "More results")`)).toBe(true);
        // Two characters (no trigram): the scan path, still one page.
        await timed("search 'y-'", `${origin}/?q=y-`, `document.querySelectorAll('.result').length > 0 || document.querySelector('#nomatch')`);
        // An exact name ranks first, as in search_nodes.
        await timed("search 'entity-4242'", `${origin}/?q=entity-4242`, `document.querySelectorAll('.result').length > 0`);
        expect(await page.eval<string>(`document.querySelector('.result a').textContent`)).toBe("entity-4242");

        // The hub: 5,000 relations listed as a bounded page, its neighbourhood drawn with at most 60 nodes.
        const db = await page.eval<string>(`document.querySelector('[data-db]').dataset.db`);
        await timed("hub entity + graph", `${origin}/?${new URLSearchParams({ db, entity: "hub" })}`, `document.querySelector('svg.graph')`);
        const nodes = await page.eval<number>(`document.querySelectorAll('svg.graph g.node').length`);
        expect(nodes).toBeGreaterThan(10);
        expect(nodes).toBeLessThanOrEqual(60);
        expect(await page.eval<string>(`document.querySelector('main').textContent`)).toContain("… and 4800 more");
        // Still responsive: the page answers at once after drawing.
        const t0 = performance.now();
        await page.eval("1 + 1");
        expect(performance.now() - t0).toBeLessThan(2_000);
        await page.screenshot(join(ARTIFACTS, "graph-100k.png"));
        expect(page.errors).toEqual([]);
      } finally {
        await browser?.close();
      }
    },
    SLOW,
  );
});

describe.skipIf(!CHROMIUM)("hosted children on the status page", () => {
  test(
    "a target's `children` (one per project) are drawn under it with their pids, sessions and memory",
    async () => {
      // The page against the dashboard app itself, fed a status with children as the hosting work reports them.
      const { createUi } = await import("../../src/supervisor/web/app.ts");
      const children = [
        {
          project: "/work/alpha",
          share: "project" as const,
          state: "running" as const,
          pid: 4242,
          uptimeSeconds: 75,
          restarts: 0,
          sessions: 2,
          rssBytes: 31 * 1024 * 1024,
          note: null,
          lastStderr: [],
        },
        {
          project: "/work/beta",
          share: "project" as const,
          state: "running" as const,
          pid: 4343,
          uptimeSeconds: 12,
          restarts: 1,
          sessions: 1,
          rssBytes: 29 * 1024 * 1024,
          note: null,
          lastStderr: [],
        },
      ];
      const sup = {
        port: 0,
        status: async () => ({
          supervisor: {
            pid: process.pid,
            port: sup.port,
            version: "test",
            startedAt: new Date().toISOString(),
            uptimeSeconds: 90,
            home: "/home/me/.mcp-session-manager",
          },
          targets: [
            {
              name: "fs",
              kind: "external" as const,
              state: "running" as const,
              pid: 4141,
              port: 1,
              transport: "streamable-http",
              url: null,
              uptimeSeconds: 80,
              restarts: 0,
              sessions: 3,
              connections: 3,
              requests: 12,
              rssBytes: 70 * 1024 * 1024,
              idleMinutes: 0,
              note: null,
              lastLog: [],
              version: "test",
              children,
            },
          ],
        }),
        stop: async (name: string) => ({ name, stopped: true, sessions: 0 }),
        restart: async () => ({}) as never,
        logs: () => [],
      };
      const ui = createUi(sup);
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => ui.fetch(request) });
      sup.port = server.port!;
      await using sandbox = new Sandbox(config);
      let browser: Browser | undefined;
      try {
        browser = await Browser.launch(sandbox.env);
        sandbox.track(browser.pid);
        const page = await browser.newPage();
        await page.goto(ui.loginUrl());
        await page.waitFor(`document.querySelectorAll('tr.child').length === 2`, 15_000, "child rows");
        const rows = await page.eval<string[][]>(
          `[...document.querySelectorAll('tr.child')].map((tr) => [tr.dataset.child, tr.querySelector('td.pid').textContent])`,
        );
        expect(rows).toEqual([
          ["/work/alpha", "4242"],
          ["/work/beta", "4343"],
        ]);
        expect(await page.eval<string>(`document.querySelector('tr.child').textContent`)).toContain("31.0 MB");
        await page.screenshot(join(ARTIFACTS, "status-children.png"));
        expect(page.errors).toEqual([]);
      } finally {
        await browser?.close();
        server.stop(true);
        ui.dispose();
      }
    },
    SLOW,
  );
});

/** A clone of a repository: a project folder whose .git/config names `origin`. */
function clone(sandbox: Sandbox, name: string, origin: string): string {
  const dir = sandbox.project(name);
  writeFileSync(join(dir, ".git", "config"), `[remote "origin"]\n\turl = ${origin}\n`);
  return dir;
}

describe.skipIf(!CHROMIUM || !postgresAvailable())("msm ui with a shared PostgreSQL memory", () => {
  const pg = usePostgres();

  test(
    "the explorer lists every project in the database and browses one (search order as search_nodes); no password anywhere",
    async () => {
      const pgConfig = { supervisor: { port: 0 }, targets: { memory: { port: 0, database: pg().passwordUrl() } } };
      await using sandbox = new Sandbox(pgConfig);
      await using elsewhere = new Sandbox(pgConfig); // another machine, writing another repository's graph
      let browser: Browser | undefined;
      try {
        mkdirSync(ARTIFACTS, { recursive: true });
        const app = await openSession(sandbox, clone(sandbox, "app", "https://github.com/acme/app.git"));
        await call(app.client, "create_entities", {
          entities: [
            { name: "Tea Room", entityType: "place", observations: ["serves tea, tea and more tea"] },
            { name: "Kettle", entityType: "tool", observations: ["boils water for one cup of tea"] },
            { name: "Cup", entityType: "tool", observations: ["holds tea"] },
          ],
        });
        await call(app.client, "create_relations", { relations: [{ from: "Kettle", to: "Cup", relationType: "fills" }] });
        const other = await openSession(elsewhere, clone(elsewhere, "site", "git@github.com:acme/site.git"));
        await call(other.client, "create_entities", { entities: [{ name: "Landing page", entityType: "page", observations: [] }] });

        const url = await loginUrl(sandbox);
        const origin = new URL(url).origin;
        const cookie = await login(await loginUrl(sandbox));
        const listed = await (await fetch(`${origin}/ui/api/databases`, { headers: { cookie } })).text();
        expect(listed).not.toContain(PG_PASSWORD);
        const dbs = JSON.parse(listed) as { id: string; backend: string; label: string; file: string; entities: number }[];
        const pgRows = dbs.filter((d) => d.backend === "postgres");
        expect(pgRows.map((d) => [d.label, d.entities])).toEqual([
          ["github.com/acme/app", 3],
          ["github.com/acme/site", 1],
        ]);
        expect(pgRows[0]!.file).toBe(`postgres://team@127.0.0.1:${pg().port}/msm`);

        browser = await Browser.launch(sandbox.env);
        sandbox.track(browser.pid);
        const page = await browser.newPage();
        await page.goto(url);
        await page.waitFor(`document.querySelector('#targets')`, 15_000, "the dashboard after login");
        await page.goto(`${origin}/?view=memory`);
        await page.waitFor(`document.querySelectorAll('.results li').length >= 2`, 15_000, "database list");
        const list = await page.eval<string>(`document.querySelector('main').textContent`);
        expect(list).toContain("github.com/acme/app — PostgreSQL");
        expect(list).toContain("github.com/acme/site — PostgreSQL");
        expect(list).not.toContain(PG_PASSWORD);

        // Search one project: the order search_nodes gives (BM25 on PostgreSQL too).
        await page.goto(`${origin}/?${new URLSearchParams({ q: "tea", db: pgRows[0]!.id })}`);
        await page.waitFor(`document.querySelectorAll('.result').length >= 3`, 15_000, "search results");
        const names = await page.eval<string[]>(`[...document.querySelectorAll('.result a')].map((a) => a.textContent)`);
        const ranked = await call<{ entities: { name: string }[] }>(app.client, "search_nodes", { query: "tea" });
        expect(names).toEqual(ranked.entities.map((e) => e.name));
        await page.eval(`[...document.querySelectorAll('.result a')].find((a) => a.textContent === "Kettle").click()`);
        await page.waitFor(`document.querySelector('#entity-name')?.textContent.startsWith("Kettle")`, 15_000, "entity page");
        expect(await page.eval<string>("document.querySelector('main').textContent")).toContain("boils water for one cup of tea");
        await page.waitFor(`document.querySelectorAll('svg.graph g.node').length === 2`, 15_000, "graph of Kettle and Cup");
        await page.screenshot(join(ARTIFACTS, "explorer-postgres.png"));
        expect(page.errors).toEqual([]);

        // The server unreachable: one row saying so, naming the server, never the password; SQLite rows unaffected.
        sandbox.writeConfig({ ...pgConfig, targets: { memory: { port: 0, database: `postgres://team:${PG_PASSWORD}@127.0.0.1:1/msm` } } });
        const down = await (await fetch(`${origin}/ui/api/databases`, { headers: { cookie } })).text();
        expect(down).not.toContain(PG_PASSWORD);
        const rows = JSON.parse(down) as { backend: string; error?: string }[];
        expect(rows.filter((d) => d.backend === "postgres")).toHaveLength(1);
        expect(rows.find((d) => d.backend === "postgres")!.error).toContain("Cannot reach the memory database postgres://team@127.0.0.1:1/msm");
        await app.close();
        await other.close();
      } finally {
        await browser?.close();
      }
    },
    SLOW,
  );
});
