// What each tool costs (issue 24): `msm status NAME --tools`, `msm status --tools` and the dashboard's Tools view
// list every tool a target's sessions were told of (the discovery cache) with its estimated tokens, the tools the
// rules hide marked, and the totals shown and hidden — the saving of cutting a 40-tool server to 5.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeEntry, type DiscoveryEntry } from "../../src/lib/discovery-cache.ts";
import { toolTokens } from "../../src/lib/token-estimate.ts";
import { TOOLS, TOOLS_PER_PAGE } from "../fixtures/many-tools-server.ts";
import { Browser, CHROMIUM } from "../helpers/browser.ts";
import { msm, Sandbox } from "../helpers/sandbox.ts";

const ARTIFACTS = resolve(import.meta.dir, "../artifacts");
const FIXTURE = resolve(import.meta.dir, "../fixtures/many-tools-server.ts");
const RULES = {
  allow: ["channels_list", "messages_*", "users_info"],
  deny: ["messages_delete", "messages_update", "messages_sched*", "messages_ephemeral", "messages_permalink", "messages_replies"],
};
const WANTED = ["channels_list", "messages_history", "messages_post", "messages_search", "users_info"];
const tools = TOOLS.map(([name, description, inputSchema]) => ({ name, description, inputSchema }));
const cost = (names: string[]) => tools.filter((t) => names.includes(t.name)).reduce((sum, t) => sum + toolTokens(t), 0);

/**
 * The fixture's tools/list answers, page by page as it gives them, in the sandbox's discovery cache: what the proxy
 * keeps after a session listed them.
 */
function cacheTools(sandbox: Sandbox, target: string, project: string): void {
  const lists: Record<string, unknown> = {};
  for (let i = 0; i < tools.length; i += TOOLS_PER_PAGE) {
    const next = i + TOOLS_PER_PAGE;
    lists[i ? String(i) : ""] = { tools: tools.slice(i, next), ...(next < tools.length ? { nextCursor: String(next) } : {}) };
  }
  const entry: DiscoveryEntry = {
    format: 1,
    target,
    key: "0".repeat(40),
    project,
    initializeParams: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    initializeResult: { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "workspace", version: "1" } },
    startupNotes: [],
    lists: { "tools/list": lists },
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
  const home = process.env.MSM_HOME;
  process.env.MSM_HOME = sandbox.msmHome;
  try {
    expect(writeEntry(entry)).toBe(true);
  } finally {
    process.env.MSM_HOME = home;
  }
}

describe("msm status --tools", () => {
  test("one target: every tool with its tokens, the 35 hidden marked with their rule, the saving in tokens", async () => {
    await using sandbox = new Sandbox({ targets: { workspace: { command: process.execPath, args: [FIXTURE], tools: RULES }, other: { command: "true" } } });
    const project = sandbox.project("app");
    cacheTools(sandbox, "workspace", project);

    const out = await msm(sandbox, ["status", "workspace", "--tools"]);
    expect(out.code).toBe(0);
    const lines = out.stdout.split("\n");
    // Long lines are wrapped at 80 columns, continued indented: read as one.
    const text = out.stdout.replace(/\n +/g, " ");
    expect(text).toContain(`workspace: 40 tools, as listed to a session in ${project}`);
    const shown = WANTED.map((name) => lines.find((l) => l.startsWith(`${name} `))!);
    for (const line of shown) expect(line).not.toContain("hidden");
    expect(lines.find((l) => l.startsWith("messages_delete "))).toContain('hidden: deny "messages_delete"');
    expect(lines.find((l) => l.startsWith("admin_users_deactivate "))).toContain("hidden: not in allow");
    const all = cost(tools.map((t) => t.name));
    const kept = cost(WANTED);
    expect(text).toContain(`shown:  5 tools, ${kept.toLocaleString("en-US")} tokens`);
    expect(text).toContain(`hidden: 35 tools, ${(all - kept).toLocaleString("en-US")} tokens`);
    expect(text).toContain("byte-pair heuristic fitted to the o200k_base tokenizer");
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);

    const json = JSON.parse((await msm(sandbox, ["status", "workspace", "--tools", "--json"])).stdout);
    expect(json.targets[0]).toMatchObject({ target: "workspace", listed: true, shown: { tools: 5, tokens: kept }, hidden: { tools: 35, tokens: all - kept } });
    expect(json.targets[0].tools.map((t: { name: string }) => t.name)).toEqual(tools.map((t) => t.name)); // the server's order, every page
    expect(json.targets[0].tools.find((t: { name: string }) => t.name === "messages_delete")).toMatchObject({
      hidden: 'deny "messages_delete"',
      hiddenIn: join(sandbox.msmHome, "config.json"),
    });

    // A project's .claude/msm.json rules, when asked for, hide more.
    mkdirSync(join(project, ".claude"), { mode: 0o700 });
    writeFileSync(join(project, ".claude", "msm.json"), JSON.stringify({ targets: { workspace: { tools: { deny: ["messages_post"] } } } }), { mode: 0o600 });
    const narrowed = JSON.parse((await msm(sandbox, ["status", "workspace", "--tools", "--json", "--project", project])).stdout);
    expect(narrowed.targets[0].shown.tools).toBe(4);
    expect(narrowed.targets[0].tools.find((t: { name: string }) => t.name === "messages_post").hiddenIn).toBe(join(project, ".claude", "msm.json"));

    // Nothing cached yet: says so, and what fills it.
    const none = await msm(sandbox, ["status", "other", "--tools"]);
    expect(none.stdout.replace(/\n +/g, " ")).toContain('other: no tool list cached yet; "msm refresh other" or a session of it fills it');
    const unknown = await msm(sandbox, ["status", "nope", "--tools"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown target "nope"');
  });

  test("every target: tools and tokens shown and hidden per target, and the total", async () => {
    await using sandbox = new Sandbox({
      targets: {
        workspace: { command: process.execPath, args: [FIXTURE], tools: RULES },
        everyday: { command: process.execPath, args: [FIXTURE], tools: { deny: ["admin_*"] } },
      },
    });
    cacheTools(sandbox, "workspace", sandbox.project("app"));
    cacheTools(sandbox, "everyday", sandbox.project("app"));
    const out = await msm(sandbox, ["status", "--tools"]);
    expect(out.code).toBe(0);
    const row = (name: string) =>
      out.stdout
        .split("\n")
        .find((l) => l.startsWith(`${name} `))!
        .trim()
        .split(/\s{2,}/);
    const all = cost(tools.map((t) => t.name));
    const n = (x: number) => x.toLocaleString("en-US");
    expect(row("workspace")).toEqual(["workspace", "40", "5", n(cost(WANTED)), "35", n(all - cost(WANTED))]);
    const admin = cost(["admin_users_deactivate", "admin_conversations_delete"]);
    expect(row("everyday")).toEqual(["everyday", "40", "38", n(all - admin), "2", n(admin)]);
    expect(row("memory")).toEqual(["memory", "-", "-", "-", "-", "-"]);
    expect(row("all")).toEqual(["all", "80", "43", n(cost(WANTED) + all - admin), "37", n(all - cost(WANTED) + admin)]);
    expect(out.stdout.replace(/\n +/g, " ")).toContain('memory: no tool list cached yet; "msm refresh memory" or a session of it fills it');
  });
});

describe.skipIf(!CHROMIUM)("the dashboard's Tools view", () => {
  test("every tool with its tokens, hidden ones struck through with their rule, the totals", async () => {
    await using sandbox = new Sandbox({ targets: { workspace: { command: process.execPath, args: [FIXTURE], tools: RULES } } });
    cacheTools(sandbox, "workspace", sandbox.project("app"));
    const login = await msm(sandbox, ["ui", "--no-open"]);
    expect(login.code).toBe(0);
    const browser = await Browser.launch(sandbox.env);
    sandbox.track(browser.pid);
    try {
      const page = await browser.newPage();
      await page.goto(login.stdout.trim());
      await page.waitFor(`document.querySelector('#targets')`, 15_000, "the dashboard after login");
      await page.eval(`document.querySelector('#nav-tools').click()`);
      await page.waitFor(`document.querySelector('[data-tools="workspace"] table')`, 15_000, "the Tools view");
      const rows = await page.eval<{ name: string; tokens: string; note: string; hidden: boolean }[]>(
        `[...document.querySelectorAll('[data-tools="workspace"] tbody tr')].map((tr) => ({ name: tr.dataset.tool, tokens: tr.children[1].textContent, note: tr.children[2].textContent, hidden: tr.classList.contains("hidden-tool") }))`,
      );
      expect(rows).toHaveLength(40);
      expect(
        rows
          .filter((r) => !r.hidden)
          .map((r) => r.name)
          .sort(),
      ).toEqual(WANTED);
      expect(rows.slice(0, 5).every((r) => !r.hidden)).toBe(true); // the shown ones first
      expect(rows.find((r) => r.name === "messages_delete")).toMatchObject({ hidden: true, note: 'hidden: deny "messages_delete"' });
      const panel = await page.eval<string>(`document.querySelector('[data-tools="workspace"]').textContent`);
      expect(panel).toContain(`5 of 40 tools shown · ${cost(WANTED).toLocaleString("en-US")} tokens`);
      expect(await page.eval<string>(`document.querySelector('#tools-total').textContent`)).toContain("35 hidden by rules");
      expect(await page.eval<string>(`document.querySelector('main').textContent`)).toContain('No tool list cached yet; "msm refresh memory"');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot(join(ARTIFACTS, "tools.png"));
      expect(page.errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
