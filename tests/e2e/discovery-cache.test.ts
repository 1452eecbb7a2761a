// The discovery cache (docs/hosted.md "Servers cost nothing until used"): a session's initialize and list requests
// answered from MSM_HOME/cache with no server, no host daemon and no connection; the first real call starts exactly
// that server, once however many sessions race; a server whose lists changed is noticed and announced; `lazy: false`
// and MSM_DISCOVERY=live opt out. Real editor sessions (the SDK client spawning dist/msm proxy), a real stdio server
// (tests/fixtures/listing-server.ts) and a real HTTP server for a URL target.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { msm, openSession, processesMatching, Sandbox, waitFor, type Session } from "../helpers/sandbox.ts";
import { textOf } from "../helpers/hosted.ts";

const LISTING = resolve(import.meta.dir, "../fixtures/listing-server.ts");
const BUN = process.execPath;
const SLOW = 90_000;

function setup(extra: object = {}): { sandbox: Sandbox; project: string; starts: string; tools: string } {
  const sandbox = new Sandbox();
  const starts = join(sandbox.root, "starts.txt");
  const tools = join(sandbox.root, "tools.txt");
  writeFileSync(starts, "");
  writeFileSync(tools, "alpha,beta,gamma,delta,epsilon");
  sandbox.writeConfig({
    targets: {
      listing: { command: BUN, args: [LISTING], env: { LISTING_STARTS: starts, LISTING_TOOLS_FILE: tools, LISTING_PAGE: "2" }, ...extra },
    },
  });
  return { sandbox, project: sandbox.project("p"), starts, tools };
}

const startsOf = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean).length;

/** Everything a session's discovery shows: every tools page, prompts, resources, templates. */
async function discovery(s: Session): Promise<unknown[]> {
  const pages: unknown[] = [];
  let cursor: string | undefined;
  do {
    const page = await s.client.listTools(cursor ? { cursor } : undefined);
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor);
  pages.push(await s.client.listPrompts(), await s.client.listResources(), await s.client.listResourceTemplates());
  return pages;
}

/** Fills the cache with one live session, then stops the host so nothing of the target runs. */
async function warm(sandbox: Sandbox, project: string): Promise<unknown[]> {
  const s = await openSession(sandbox, project, { target: "listing" });
  const seen = await discovery(s);
  expect(s.client.getServerVersion()?.name).toBe("listing");
  await s.close();
  await waitFor(
    () => existsSync(join(sandbox.msmHome, "cache", "listing")) && readdirSync(join(sandbox.msmHome, "cache", "listing")).length > 0,
    10_000,
    "a cache entry",
  );
  const stopped = await msm(sandbox, ["stop", "listing"]);
  expect(stopped.code).toBe(0);
  await waitFor(() => !existsSync(join(sandbox.msmHome, "listing.lock")) && processesMatching(sandbox, LISTING).length === 0, 15_000, "the host gone");
  return seen;
}

test(
  "a warm cache answers initialize and every list with no server and no host daemon; the first call starts exactly one",
  async () => {
    const { sandbox, project, starts } = setup();
    await using _ = sandbox;
    const live = await warm(sandbox, project);
    expect(startsOf(starts)).toBe(1);

    // The entry: 0600 in a 0700 folder, and nothing of the config readable in its name.
    const dir = join(sandbox.msmHome, "cache", "listing");
    const [file] = readdirSync(dir);
    expect(file).toMatch(/^[0-9a-f]{40}\.json$/);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);

    const cached = await openSession(sandbox, project, { target: "listing" });
    expect(await discovery(cached)).toEqual(live);
    await cached.client.ping();
    expect(cached.client.getServerVersion()?.name).toBe("listing");
    expect(existsSync(join(sandbox.msmHome, "listing.lock"))).toBe(false);
    expect(processesMatching(sandbox, LISTING)).toEqual([]);
    expect(startsOf(starts)).toBe(1);

    // The first real call starts the server, initialized as this session would, and is answered.
    const answer = textOf(await cached.client.callTool({ name: "beta", arguments: {} }));
    expect(answer).toMatch(/^beta from \d+$/);
    expect(startsOf(starts)).toBe(2);
    await cached.close();

    // Three cached sessions racing to their first call: one start between them.
    await msm(sandbox, ["stop", "listing"]);
    await waitFor(() => processesMatching(sandbox, LISTING).length === 0, 15_000, "the host gone");
    const racers = await Promise.all([1, 2, 3].map(() => openSession(sandbox, project, { target: "listing" })));
    expect(startsOf(starts)).toBe(2);
    const answers = await Promise.all(racers.map((s) => s.client.callTool({ name: "alpha", arguments: {} })));
    const pids = new Set(answers.map((a) => textOf(a).split(" ").pop()));
    expect(pids.size).toBe(1);
    expect(startsOf(starts)).toBe(3);
    for (const s of racers) await s.close();
  },
  SLOW,
);

test(
  "a server whose tools changed: the session that starts it and a session still on the cache both get list_changed and the new list",
  async () => {
    const { sandbox, project, starts, tools } = setup();
    await using _ = sandbox;
    await warm(sandbox, project);
    writeFileSync(tools, "alpha,beta,zeta");

    const changed = { x: 0, y: 0 };
    const x = await openSession(sandbox, project, {
      target: "listing",
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed.x++),
    });
    const y = await openSession(sandbox, project, {
      target: "listing",
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed.y++),
    });
    // Both still see the cached list.
    expect((await x.client.listTools()).tools.map((t) => t.name)).toEqual(["alpha", "beta"]);
    expect(startsOf(starts)).toBe(1);

    await x.client.callTool({ name: "alpha", arguments: {} });
    await waitFor(() => changed.x === 1, 10_000, "list_changed in the session that went live");
    const names = async (s: Session) => {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.client.listTools(cursor ? { cursor } : undefined);
        all.push(...page.tools.map((t) => t.name));
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    };
    expect(await names(x)).toEqual(["alpha", "beta", "zeta"]);
    // Y never called anything: it hears of the change through the rewritten entry, and reads the new list from it.
    await waitFor(() => changed.y === 1, 10_000, "list_changed in the session still on the cache");
    expect(await names(y)).toEqual(["alpha", "beta", "zeta"]);
    expect(startsOf(starts)).toBe(2);
    await x.close();
    await y.close();

    // The next session is answered with the new list from the start.
    const z = await openSession(sandbox, project, { target: "listing" });
    expect(await names(z)).toEqual(["alpha", "beta", "zeta"]);
    await z.close();
  },
  SLOW,
);

test(
  "lazy: false, and MSM_DISCOVERY=live, start the server for every session even with a warm cache",
  async () => {
    const { sandbox, project, starts } = setup();
    await using _ = sandbox;
    await warm(sandbox, project);

    const live = await openSession(sandbox, project, { target: "listing", env: { MSM_DISCOVERY: "live" } });
    await live.client.listTools();
    await waitFor(() => startsOf(starts) === 2, 10_000, "a start for the live session");
    await live.close();

    await msm(sandbox, ["stop", "listing"]);
    await waitFor(() => processesMatching(sandbox, LISTING).length === 0, 15_000, "the host gone");
    const config = JSON.parse(readFileSync(join(sandbox.msmHome, "config.json"), "utf8"));
    config.targets.listing.lazy = false;
    writeFileSync(join(sandbox.msmHome, "config.json"), JSON.stringify(config));
    const eager = await openSession(sandbox, project, { target: "listing" });
    await waitFor(() => startsOf(starts) === 3, 10_000, "a start for the lazy: false session");
    await eager.close();
  },
  SLOW,
);

test(
  "a URL target with a warm cache: no relay and not one request to the server until the first call",
  async () => {
    const sandbox = new Sandbox();
    await using _ = sandbox;
    const requests: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        if (request.method !== "POST") return new Response(null, { status: 405 });
        const message = (await request.json()) as { id?: number; method: string; params?: { protocolVersion?: string } };
        requests.push(message.method);
        if (message.id === undefined) return new Response(null, { status: 202 });
        const result =
          message.method === "initialize"
            ? { protocolVersion: message.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "http-listing", version: "1" } }
            : message.method === "tools/list"
              ? { tools: [{ name: "hello", inputSchema: { type: "object" } }] }
              : message.method === "tools/call"
                ? { content: [{ type: "text", text: "hello back" }] }
                : {};
        return Response.json({ jsonrpc: "2.0", id: message.id, result }, { headers: { "mcp-session-id": "s1" } });
      },
    });
    try {
      sandbox.writeConfig({ targets: { web: { url: `http://127.0.0.1:${server.port}/mcp` } } });
      const project = sandbox.project("p");
      const first = await openSession(sandbox, project, { target: "web" });
      const tools = await first.client.listTools();
      await first.close();
      await waitFor(() => existsSync(join(sandbox.msmHome, "cache", "web")), 10_000, "a cache entry");
      await msm(sandbox, ["stop", "web"]);
      await waitFor(() => !existsSync(join(sandbox.msmHome, "web.lock")), 15_000, "the relay gone");
      requests.length = 0;

      const cached = await openSession(sandbox, project, { target: "web" });
      expect(await cached.client.listTools()).toEqual(tools);
      expect(requests).toEqual([]);
      expect(existsSync(join(sandbox.msmHome, "web.lock"))).toBe(false);
      expect(textOf(await cached.client.callTool({ name: "hello", arguments: {} }))).toBe("hello back");
      expect(requests).toContain("initialize");
      expect(requests).toContain("tools/call");
      await cached.close();
    } finally {
      server.stop(true);
    }
  },
  SLOW,
);

test(
  "msm status shows a stopped target with a cache as cached, with its age; msm refresh rebuilds the entries from the server",
  async () => {
    const { sandbox, project, starts, tools } = setup();
    await using _ = sandbox;
    await warm(sandbox, project);

    const json = await msm(sandbox, ["status", "--json"]);
    const row = (JSON.parse(json.stdout).targets as { name: string; state: string; cache?: { entries: number; ageSeconds: number } }[]).find(
      (t) => t.name === "listing",
    );
    expect(row?.state).toBe("cached");
    expect(row?.cache?.entries).toBe(1);
    expect(row?.cache?.ageSeconds).toBeGreaterThanOrEqual(0);
    const text = await msm(sandbox, ["status"]);
    expect(text.stdout).toContain("cached");
    expect(text.stdout).toContain("discovery cache");

    writeFileSync(tools, "alpha,omega");
    const refreshed = await msm(sandbox, ["refresh", "listing"]);
    expect(refreshed.stderr).toBe("");
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toContain("2 tools");
    expect(startsOf(starts)).toBe(2);

    await msm(sandbox, ["stop", "listing"]);
    await waitFor(() => processesMatching(sandbox, LISTING).length === 0, 15_000, "the host gone");
    const s = await openSession(sandbox, project, { target: "listing" });
    expect((await s.client.listTools()).tools.map((t) => t.name)).toEqual(["alpha", "omega"]);
    expect(startsOf(starts)).toBe(2);
    await s.close();

    const unknown = await msm(sandbox, ["refresh", "nope"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("nope");
  },
  SLOW,
);

test(
  "a live session whose server comes back with other tools (a restart after a config or code change) hears list_changed",
  async () => {
    const { sandbox, project, tools } = setup();
    await using _ = sandbox;
    let changed = 0;
    const s = await openSession(sandbox, project, {
      target: "listing",
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++),
    });
    expect((await s.client.listTools()).tools.map((t) => t.name)).toEqual(["alpha", "beta"]);
    writeFileSync(tools, "alpha,kappa");
    expect((await msm(sandbox, ["restart", "listing"])).code).toBe(0);
    // The next call finds the host gone, the proxy replays the session to the new one, and compares the lists.
    expect(textOf(await s.client.callTool({ name: "alpha", arguments: {} }))).toMatch(/^alpha from/);
    await waitFor(() => changed === 1, 10_000, "list_changed after the server came back");
    expect((await s.client.listTools()).tools.map((t) => t.name)).toEqual(["alpha", "kappa"]);
    await s.close();
  },
  SLOW,
);
