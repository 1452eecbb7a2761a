// What an edit of config.json changes in the config the supervisor acts on (supervisor/config-state.ts): which targets
// are added, removed, restarted or changed without a restart, and what a bad edit keeps.
import { describe, expect, test } from "bun:test";
import { readConfig } from "../../../src/lib/config.ts";
import { settle, type InForce, type Reading } from "../../../src/supervisor/config-state.ts";

const read = (config: object | string): Reading => ({ config: readConfig(typeof config === "string" ? config : JSON.stringify(config)) });
const fs = { command: "npx", args: ["-y", "server-filesystem", "{project}"] };
const code = { command: "uvx", args: ["code", "--port", "{port}"], transport: "streamable-http" };
const start = (config: object | string): InForce => settle(undefined, read(config)).inForce;
const names = (inForce: InForce) => [...inForce.targets.keys()];

describe("config in force", () => {
  test("added, removed and changed targets; the others are not touched", () => {
    const before = start({ targets: { fs, code } });
    expect(names(before)).toEqual(["memory", "fs", "code"]);
    const after = settle(
      before,
      read({ targets: { fs: { ...fs, args: ["-y", "server-filesystem", "{project}", "--ro"] }, web: { url: "https://x.example/mcp" } } }),
    );
    expect(after.changes.map((c) => [c.kind, c.name])).toEqual([
      ["changed", "fs"],
      ["added", "web"],
      ["removed", "code"],
    ]);
    expect(after.changes[0]).toMatchObject({ restart: ["args"], live: [] });
    expect(after.problems).toEqual([]);
  });

  test("a change is of the resolved target, not the text: key order and spelled-out defaults change nothing", () => {
    const before = start({ targets: { fs } });
    const same = settle(before, read(`{ "targets": { "fs": { "args": ${JSON.stringify(fs.args)}, "share": "project", "env": {}, "command": "npx" } } }`));
    expect(same.changes).toEqual([]);
  });

  test("idle times, lazy, tool rules, a start's wait, instances and health apply without a restart; anything else restarts", () => {
    const before = start({ targets: { fs, code, memory: { port: 0 } } });
    const live = settle(
      before,
      read({
        targets: {
          fs: { ...fs, childIdleMinutes: 3, daemonIdleMinutes: 4, lazy: false, startTimeoutSeconds: 90, instances: "auto" },
          code: { ...code, startTimeoutSeconds: 5, health: "mcp", daemonIdleMinutes: 1, tools: { deny: ["drop_*"] } },
          memory: { port: 0, daemonIdleMinutes: 2 },
        },
      }),
    );
    expect(live.changes.map((c) => (c.kind === "changed" ? [c.name, c.restart, c.live] : c.kind))).toEqual([
      ["memory", [], ["daemonIdleMs"]],
      ["fs", [], ["childIdleMs", "daemonIdleMs", "instances", "lazy", "startTimeoutSeconds"]],
      ["code", [], ["daemonIdleMs", "health", "startTimeoutMs", "tools"]],
    ]);
    const restart = settle(live.inForce, read({ targets: { fs: { ...fs, env: { A: "1" } }, code: { ...code, transport: "sse" }, memory: { port: 5 } } }));
    expect(restart.changes.map((c) => (c.kind === "changed" ? [c.name, c.restart] : c.kind))).toEqual([
      ["memory", ["port"]],
      ["fs", ["env"]],
      ["code", ["path", "transport"]],
    ]);
  });

  test("a target that changes kind is restarted whole", () => {
    const before = start({ targets: { fs } });
    const after = settle(before, read({ targets: { fs: { ...fs, transport: "streamable-http" } } }));
    expect(after.changes[0]).toMatchObject({ kind: "changed", live: [] });
    expect((after.changes[0] as { restart: string[] }).restart).toContain("kind");
  });

  test("an edit the file as a whole rejects keeps the last good config, and says why", () => {
    const before = start({ targets: { fs, code } });
    for (const bad of ['{ "targets": { "fs": ', JSON.stringify({ targets: {}, extra: 1 }), JSON.stringify({ targets: [] })]) {
      const after = settle(before, read(bad));
      expect(after.inForce).toBe(before);
      expect(after.changes).toEqual([]);
      expect(after.keptAll).toBe(true);
      expect(after.problems.length).toBe(1);
    }
    const refused = settle(before, { refused: "config.json is writable by every user; run: chmod go-w config.json" });
    expect(refused).toMatchObject({ keptAll: true, changes: [], problems: ["config.json is writable by every user; run: chmod go-w config.json"] });
    expect(refused.inForce).toBe(before);
    // The next good edit applies against the last good config.
    const fixed = settle(before, read({ targets: { fs } }));
    expect(fixed).toMatchObject({ keptAll: false, problems: [] });
    expect(fixed.changes.map((c) => [c.kind, c.name])).toEqual([["removed", "code"]]);
  });

  test("a broken entry keeps that target's last good entry; the rest of the edit applies; a new broken one is not served", () => {
    const before = start({ targets: { fs, code } });
    const after = settle(before, read({ targets: { fs: { ...fs, shar: "x" }, code: { ...code, args: [] }, typo: { command: "x", helth: 1 } } }));
    expect(after.kept).toEqual(["fs"]);
    expect(after.inForce.targets.get("fs")).toBe(before.targets.get("fs"));
    expect(names(after.inForce)).toEqual(["memory", "code", "fs"]);
    expect(after.changes.map((c) => [c.kind, c.name])).toEqual([["changed", "code"]]);
    expect(Object.keys(after.broken)).toEqual(["fs", "typo"]);
    expect(after.problems.join("\n")).toContain('unknown key "targets.fs.shar"');
  });

  test("at the start there is no last good config: whatever of the file is valid applies, memory always", () => {
    expect(names(start({ targets: { fs, typo: { command: "x", helth: 1 } }, extra: 1 }))).toEqual(["memory", "fs"]);
    expect(names(start('{ "targets": '))).toEqual(["memory"]);
  });

  test("a changed supervisor.port is reported as needing a supervisor restart, not applied", () => {
    const before = start({ supervisor: { port: 0 }, targets: { fs } });
    const moved = settle(before, read({ supervisor: { port: 4000 }, targets: { fs } }), 41234);
    expect(moved.inForce.supervisorPort).toBe(0);
    expect(moved.changes).toEqual([]);
    expect(moved.needsRestart).toEqual([expect.stringContaining("supervisor.port is now 4000 in config.json (was 0)")]);
    expect(moved.needsRestart[0]).toContain("msm restart supervisor");
    expect(moved.needsRestart[0]).toContain("it listens on 41234");
    expect(settle(before, read({ supervisor: { port: 0 }, targets: { fs } })).needsRestart).toEqual([]);
  });
});
