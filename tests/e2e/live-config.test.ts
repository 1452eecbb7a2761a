// Edits of config.json apply while the supervisor runs, without `msm restart` (docs/configuration.md, "Edits apply
// live"): a real supervisor, real host daemons running real MCP servers as children, and real SDK clients driving
// `dist/msm proxy` as an editor does. Saved the ways editors and people save: in place, a temp file renamed over
// it, delete then create, vim's backup rename.
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { MSM, Sandbox, alive, msm, openSession, processesMatching, waitFor, withFreePorts, type Session } from "../helpers/sandbox.ts";
import { EVERYTHING, FILESYSTEM, NODE, textOf } from "../helpers/hosted.ts";

const SLOW = 120_000;

/** server-everything over stdio, hosted by msm; its `get-env` tool shows what its environment says. */
const everything = (env: Record<string, string> = {}, extra: object = {}) => ({ command: NODE, args: [EVERYTHING, "stdio"], env, ...extra });
/** The reference filesystem server, one child per project. */
const filesystem = { command: NODE, args: [FILESYSTEM, "{project}"] };

type Save = (file: string, content: string) => void;
/** How editors and people save a file. */
const SAVES: Record<string, Save> = {
  "in place": (file, content) => writeFileSync(file, content),
  "temp file renamed over it": (file, content) => {
    writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  },
  "delete then create": (file, content) => {
    unlinkSync(file);
    writeFileSync(file, content, { mode: 0o600 });
  },
  // vim (backupcopy=no): probe the folder with a file named 4913, rename the original to its backup, write the new
  // file, delete the backup.
  "vim's backup rename": (file, content) => {
    const probe = join(dirname(file), "4913");
    writeFileSync(probe, "");
    unlinkSync(probe);
    renameSync(file, `${file}~`);
    writeFileSync(file, content, { mode: 0o600 });
    unlinkSync(`${file}~`);
  },
};

const configFile = (sandbox: Sandbox) => join(sandbox.msmHome, "config.json");
const configText = (config: object) => JSON.stringify(withFreePorts(config), null, 2);
const save = (sandbox: Sandbox, config: object, how: Save = SAVES["temp file renamed over it"]!) => how(configFile(sandbox), configText(config));

const supervisorLog = (sandbox: Sandbox) => {
  try {
    return readFileSync(join(sandbox.msmHome, "logs", "supervisor.log"), "utf8");
  } catch {
    return "";
  }
};

/**
 * Saves `config`, then waits for the supervisor's log to say `line` (written when it applied the edit): the time
 * that took. Only the log is read meanwhile — `msm status` would make the supervisor look at the file at once.
 */
async function saveAndWait(sandbox: Sandbox, config: object | string, line: string | RegExp, how?: Save): Promise<number> {
  const from = supervisorLog(sandbox).length;
  const started = performance.now();
  if (typeof config === "string") (how ?? SAVES["in place"]!)(configFile(sandbox), config);
  else save(sandbox, config, how);
  await waitFor(
    () => {
      const fresh = supervisorLog(sandbox).slice(from);
      return typeof line === "string" ? fresh.includes(line) : line.test(fresh);
    },
    10_000,
    `the supervisor log to say ${line}`,
  );
  return performance.now() - started;
}

interface Report {
  problems: string[];
  config?: { problems: string[]; keptAll: boolean; kept: string[]; needsRestart: string[]; appliedAt: string };
  targets: { name: string; state: string; pid: number | null; note: string | null; childIdleMinutes?: number; children?: { pid: number | null }[] }[];
}

async function status(sandbox: Sandbox): Promise<Report & { code: number }> {
  const out = await msm(sandbox, ["status", "--json"]);
  if (!out.stdout) throw new Error(`msm status --json printed nothing (exit ${out.code}): ${out.stderr}`);
  return { ...JSON.parse(out.stdout), code: out.code };
}

const row = (report: Report, name: string) => report.targets.find((t) => t.name === name);
const daemonPid = (sandbox: Sandbox, name: string) => sandbox.lock(name)?.pid;
const echo = async (session: Session, message: string) => textOf(await session.client.callTool({ name: "echo", arguments: { message } }));
const envOf = async (session: Session) => textOf(await session.client.callTool({ name: "get-env", arguments: {} }));

/** Apply times measured in this file, printed at the end of each test for docs/configuration.md. */
const measured: Record<string, number[]> = {};
const note = (what: string, ms: number) => (measured[what] ??= []).push(Math.round(ms));

describe("config.json applied live", () => {
  test(
    "a target added while the supervisor runs is usable at once; a removed one is stopped with its children, and its sessions are told what to run",
    async () => {
      await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
      const project = sandbox.project("p");
      const memory = await openSession(sandbox, project);
      const memoryPid = daemonPid(sandbox, "memory")!;
      expect(memoryPid).toBeGreaterThan(0);

      // Added: a session opened right after the save works, whether or not the watch has seen the edit yet.
      save(sandbox, { targets: { memory: { port: 0 }, everything: everything() } });
      const session = await openSession(sandbox, project, { target: "everything" });
      expect(await echo(session, "hello")).toBe("Echo: hello");
      const host = daemonPid(sandbox, "everything")!;
      const children = processesMatching(sandbox, EVERYTHING);
      expect(children.length).toBe(1);

      // Removed: the host and its child go, by pid.
      const took = await saveAndWait(sandbox, { targets: { memory: { port: 0 } } }, "everything: removed from config.json");
      note("remove (log line)", took);
      await waitFor(() => !alive(host) && !children.some(alive), 10_000, "the removed target's host and child to exit");
      expect(existsSync(join(sandbox.msmHome, "everything.lock"))).toBe(false);

      // The open session's next call says which target is gone and what to do.
      const error = await session.client.callTool({ name: "echo", arguments: { message: "again" } }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toContain('Unknown target "everything"');
      expect(error?.message).toContain(`Add it under "targets" in ${configFile(sandbox)}`);
      expect(error?.message).toContain("msm doctor");
      // A new session of it too (on stderr, as an editor logs it).
      const init = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      });
      const fresh = Bun.spawnSync([MSM, "proxy", "--target", "everything"], { env: sandbox.env, cwd: project, stdin: Buffer.from(init + "\n") });
      expect(fresh.exitCode).toBe(1);
      expect(fresh.stderr.toString()).toContain('Unknown target "everything"');

      // Nothing else was touched.
      expect(daemonPid(sandbox, "memory")).toBe(memoryPid);
      expect(row(await status(sandbox), "everything")).toBeUndefined();
      expect((await memory.client.callTool({ name: "read_graph", arguments: {} })).isError).toBeFalsy();

      // Added back: usable again.
      const again = await saveAndWait(sandbox, { targets: { memory: { port: 0 }, everything: everything() } }, "everything: added to config.json");
      note("add (log line)", again);
      const back = await openSession(sandbox, project, { target: "everything" });
      expect(await echo(back, "back")).toBe("Echo: back");
      for (const s of [memory, session, back]) await s.close();
      console.log(`apply times (ms): ${JSON.stringify(measured)}`);
    },
    SLOW,
  );

  test(
    "a changed target is restarted and a session open across the change keeps working; the other targets keep their pids and children",
    async () => {
      await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, everything: everything({ MSM_TEST_MARK: "one" }), fs: filesystem } });
      const project = sandbox.project("p");
      const memory = await openSession(sandbox, project);
      const fs = await openSession(sandbox, project, { target: "fs" });
      expect((await fs.client.listTools()).tools.length).toBeGreaterThan(0);
      const session = await openSession(sandbox, project, { target: "everything" });
      expect(await envOf(session)).toContain('"MSM_TEST_MARK": "one"');
      const before = { memory: daemonPid(sandbox, "memory")!, fs: daemonPid(sandbox, "fs")!, everything: daemonPid(sandbox, "everything")! };
      const fsChildren = processesMatching(sandbox, FILESYSTEM);
      expect(fsChildren.length).toBe(1);

      // env changes: the host is restarted with it; the same SDK client's next call reaches the new child.
      const config = (mark: string, extra: object = {}) => ({
        targets: { memory: { port: 0 }, everything: everything({ MSM_TEST_MARK: mark }, extra), fs: filesystem },
      });
      const took = await saveAndWait(sandbox, config("two"), /everything: env changed in config\.json; restarted: pid \d+/);
      note("change env → restarted (log line)", took);
      const restarted = daemonPid(sandbox, "everything")!;
      expect(restarted).not.toBe(before.everything);
      expect(alive(before.everything)).toBe(false);
      expect(await envOf(session)).toContain('"MSM_TEST_MARK": "two"');
      expect(await echo(session, "still here")).toBe("Echo: still here");

      // A call sent while the old host is gone and the new one is not up yet waits for it rather than fail.
      save(sandbox, config("three"));
      await waitFor(() => !alive(restarted), 10_000, "the old host to exit");
      expect(await echo(session, "during")).toBe("Echo: during");
      await waitFor(() => daemonPid(sandbox, "everything") !== restarted && daemonPid(sandbox, "everything"), 10_000, "a new host");
      expect(await envOf(session)).toContain('"MSM_TEST_MARK": "three"');

      // Idle times change without a restart: the host is told, status shows them.
      const current = daemonPid(sandbox, "everything")!;
      await saveAndWait(
        sandbox,
        config("three", { childIdleMinutes: 7, daemonIdleMinutes: 9 }),
        /everything: .*applied without a restart \(the host was told\)/,
      );
      expect(daemonPid(sandbox, "everything")).toBe(current);
      expect(row(await status(sandbox), "everything")).toMatchObject({ childIdleMinutes: 7 });
      expect(readFileSync(join(sandbox.msmHome, "logs", "everything.log"), "utf8")).toContain("settings changed: children stop after 7 min");
      // `lazy` is the proxy's, read per session: nothing restarts.
      await saveAndWait(sandbox, config("three", { childIdleMinutes: 7, daemonIdleMinutes: 9, lazy: false }), "everything: lazy changed in config.json");
      expect(daemonPid(sandbox, "everything")).toBe(current);
      expect(await echo(session, "after")).toBe("Echo: after");

      // Untouched: the same daemons, the same child, the sessions carry on.
      expect(daemonPid(sandbox, "memory")).toBe(before.memory);
      expect(daemonPid(sandbox, "fs")).toBe(before.fs);
      expect(processesMatching(sandbox, FILESYSTEM)).toEqual(fsChildren);
      expect(fsChildren.every(alive)).toBe(true);
      expect((await fs.client.listTools()).tools.length).toBeGreaterThan(0);
      expect((await memory.client.callTool({ name: "read_graph", arguments: {} })).isError).toBeFalsy();
      for (const s of [memory, fs, session]) await s.close();
      console.log(`apply times (ms): ${JSON.stringify(measured)}`);
    },
    SLOW,
  );

  test(
    "an invalid edit keeps the last good config and says so (status, log, dashboard) with the line; the next good edit clears it",
    async () => {
      const good = { targets: { memory: { port: 0 }, everything: everything({ MSM_TEST_MARK: "good" }) } };
      await using sandbox = new Sandbox(good);
      const project = sandbox.project("p");
      const session = await openSession(sandbox, project, { target: "everything" });
      const host = daemonPid(sandbox, "everything")!;

      // Not JSON: nothing of it applies; status names the file, the line and column, and exits 1.
      const broken = configText(good).replace('"MSM_TEST_MARK": "good"', '"MSM_TEST_MARK": good');
      const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
      const took = await saveAndWait(sandbox, broken, "is not valid JSON", SAVES["in place"]);
      note("invalid edit reported (log line)", took);
      expect(supervisorLog(sandbox)).toContain("The last good config stays in force.");
      const st = await status(sandbox);
      expect(st.code).toBe(1);
      expect(st.config?.keptAll).toBe(true);
      expect(st.problems.join("\n")).toMatch(new RegExp(`config\\.json is not valid JSON: .* \\(line ${lineOf(broken, "MSM_TEST_MARK")}, column \\d+\\)`));
      expect(row(st, "everything")).toMatchObject({ state: "running", pid: host });
      const table = await msm(sandbox, ["status"]);
      expect(table.stdout).toContain("the supervisor keeps the last good config");
      expect(table.stdout).toContain(`line ${lineOf(broken, "MSM_TEST_MARK")}`);
      // The dashboard shows the same (its status API; the page draws it as a banner).
      const ui = await dashboard(sandbox);
      const shown = await ui();
      expect(shown.config.keptAll).toBe(true);
      expect(shown.config.problems.join("\n")).toContain("is not valid JSON");
      // The old config stays in force for sessions: the open one, and a new one after its daemon was stopped (its
      // proxy reads a broken file, so it asks the supervisor for the entry in force).
      expect(await echo(session, "kept")).toBe("Echo: kept");
      expect((await msm(sandbox, ["stop", "everything"])).code).toBe(0);
      const later = await openSession(sandbox, project, { target: "everything" });
      expect(await envOf(later)).toContain('"MSM_TEST_MARK": "good"');

      // A bad key in one entry: that target keeps its last good entry, with the line of the key.
      const typo = configText(good).replace('"command"', '"shar": "x",\n      "command"');
      await saveAndWait(sandbox, typo, 'unknown key "targets.everything.shar"');
      const kept = await status(sandbox);
      expect(kept.code).toBe(1);
      expect(kept.config).toMatchObject({ keptAll: false, kept: ["everything"] });
      expect(row(kept, "everything")!.note).toContain(`unknown key "targets.everything.shar" (line ${lineOf(typo, '"shar"')})`);
      expect(row(kept, "everything")!.note).toContain("Its last good entry stays in force.");
      expect(await envOf(later)).toContain('"MSM_TEST_MARK": "good"');

      // Writable by others: refused outright, last good config kept.
      save(sandbox, good);
      await waitFor(async () => (await status(sandbox)).problems.length === 0, 10_000, "the fixed file to apply");
      chmodSync(configFile(sandbox), 0o666);
      await waitFor(() => supervisorLog(sandbox).includes("is writable by others") || supervisorLog(sandbox).includes("chmod go-w"), 10_000, "the refusal");
      const unsafe = await status(sandbox);
      expect(unsafe.config?.keptAll).toBe(true);
      expect(unsafe.problems.join("\n")).toContain("chmod go-w");
      expect(await envOf(later)).toContain('"MSM_TEST_MARK": "good"');

      chmodSync(configFile(sandbox), 0o600);
      // Owned by someone else (only root can hand a file to another user): refused the same way.
      if (process.getuid?.() === 0) {
        await waitFor(async () => (await status(sandbox)).problems.length === 0, 10_000, "the mode fix to apply");
        chownSync(configFile(sandbox), 65534, 65534);
        await waitFor(() => supervisorLog(sandbox).includes("is owned by uid 65534"), 10_000, "the refusal of a foreign file");
        expect((await status(sandbox)).config?.keptAll).toBe(true);
        expect(await envOf(later)).toContain('"MSM_TEST_MARK": "good"');
        chownSync(configFile(sandbox), 0, 0);
      }

      // Fixed: the problem is gone everywhere, and the next good edit applies as usual.
      await saveAndWait(sandbox, { targets: { memory: { port: 0 }, everything: everything({ MSM_TEST_MARK: "fixed" }) } }, "everything: env changed");
      expect(supervisorLog(sandbox)).toContain("config.json is valid again");
      const fixed = await status(sandbox);
      expect(fixed.code).toBe(0);
      expect(fixed.problems).toEqual([]);
      expect(fixed.config).toMatchObject({ problems: [], keptAll: false, kept: [] });
      // The dashboard refreshes its snapshot every few seconds.
      await waitFor(async () => (await ui()).config.problems.length === 0, 10_000, "the dashboard to clear the problem");
      expect(await envOf(later)).toContain('"MSM_TEST_MARK": "fixed"');
      for (const s of [session, later]) await s.close();
      console.log(`apply times (ms): ${JSON.stringify(measured)}`);
    },
    SLOW,
  );

  test(
    "every way of saving is noticed; a deleted file means the defaults; supervisor.port is reported as needing a restart",
    async () => {
      const config = (minutes: number) => ({ targets: { memory: { port: 0, daemonIdleMinutes: minutes }, everything: everything() } });
      await using sandbox = new Sandbox(config(1));
      const project = sandbox.project("p");
      const memory = await openSession(sandbox, project);
      const memoryPid = daemonPid(sandbox, "memory")!;
      let minutes = 1;
      for (const [how, write] of Object.entries(SAVES)) {
        minutes++;
        const took = await saveAndWait(sandbox, config(minutes), "memory: daemonIdleMinutes changed in config.json; applied without a restart", write);
        note(`save: ${how}`, took);
        expect(statSync(configFile(sandbox)).isFile()).toBe(true);
      }
      expect(daemonPid(sandbox, "memory")).toBe(memoryPid);
      expect(row(await status(sandbox), "memory")).toMatchObject({ state: "running", pid: memoryPid });

      // Several writes in a burst are read once they settle: one change applied, to the last content.
      const from = supervisorLog(sandbox).length;
      for (let m = 20; m <= 25; m++) writeFileSync(configFile(sandbox), configText(config(m)));
      await waitFor(() => supervisorLog(sandbox).slice(from).includes("daemonIdleMinutes changed"), 10_000, "the burst to apply");
      expect(row(await status(sandbox), "memory")).toMatchObject({ idleMinutes: 25 });

      // The supervisor's own port: reported as needing `msm restart supervisor`, not half applied.
      const port = (await status(sandbox)) as unknown as { supervisor: { port: number } };
      await saveAndWait(sandbox, { ...config(25), supervisor: { port: 1 } }, 'Run "msm restart supervisor"');
      const st = await status(sandbox);
      expect(st.code).toBe(0);
      expect(st.config?.needsRestart.join("\n")).toContain("supervisor.port is now 1");
      expect((st as unknown as { supervisor: { port: number } }).supervisor.port).toBe(port.supervisor.port);
      expect((await msm(sandbox, ["status"])).stdout).toContain("msm restart supervisor");
      save(sandbox, config(25));
      await waitFor(async () => (await status(sandbox)).config?.needsRestart.length === 0, 10_000, "the note to clear");
      // `msm restart supervisor` (what the note says to run): a new supervisor adopts the daemons, which keep serving.
      const old = sandbox.lock("supervisor")!.pid;
      const restarted = await msm(sandbox, ["restart", "supervisor"]);
      expect(restarted.code).toBe(0);
      expect(restarted.stdout).toContain("daemons kept running");
      expect(sandbox.lock("supervisor")!.pid).not.toBe(old);
      expect(alive(old)).toBe(false);
      expect(daemonPid(sandbox, "memory")).toBe(memoryPid);
      expect((await memory.client.callTool({ name: "read_graph", arguments: {} })).isError).toBeFalsy();

      // Deleted: the defaults — no target but memory, on its defaults. (Memory is stopped first: its default port is
      // a fixed one, which a test never binds.)
      await memory.close();
      expect((await msm(sandbox, ["stop", "memory"])).code).toBe(0);
      const took = await saveAndWait(sandbox, {}, "everything: removed from config.json", (file) => unlinkSync(file));
      note("delete (after the absent grace)", took);
      expect(supervisorLog(sandbox)).toContain("memory: port, daemonIdleMinutes changed in config.json; applies when it starts");
      const defaults = await status(sandbox);
      expect(defaults.targets.map((t) => t.name)).toEqual(["memory"]);
      expect(defaults.problems).toEqual([]);
      // The default supervisor.port differs from the sandbox's 0: that, too, waits for a supervisor restart.
      expect(defaults.config?.needsRestart.join("\n")).toContain("supervisor.port is now 3199");
      console.log(`apply times (ms): ${JSON.stringify(measured)}`);
    },
    SLOW,
  );
});

/** The dashboard's status API, logged in the way a browser is (a one-time link, then its cookie). */
async function dashboard(sandbox: Sandbox): Promise<() => Promise<{ config: { keptAll: boolean; problems: string[] } }>> {
  const link = (await msm(sandbox, ["ui", "--no-open"])).stdout.trim();
  const login = await fetch(link, { redirect: "manual" });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const origin = new URL(link).origin;
  return async () => {
    const response = await fetch(`${origin}/ui/api/status`, { headers: { cookie } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { status: { config: { keptAll: boolean; problems: string[] } } }).status;
  };
}
