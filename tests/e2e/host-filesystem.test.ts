// A real stdio server (@modelcontextprotocol/server-filesystem) hosted by msm, driven by the real SDK client through
// `dist/msm proxy` as an editor does. Covers the peers' per-project sharing bugs (mcp-mux, Serena: a server shared
// globally served the wrong project) and the start race (twenty sessions opening at once must get one child).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FILESYSTEM, NODE, textOf } from "../helpers/hosted.ts";
import { Sandbox, alive, msm, openSession, processesMatching, waitFor, type Session } from "../helpers/sandbox.ts";
import { basename } from "node:path";

const SLOW = 120_000;

function fsConfig(extra: object = {}) {
  return { targets: { memory: { port: 0 }, fs: { command: NODE, args: [FILESYSTEM, "{project}"], ...extra } } };
}

/** The server-filesystem children running in this sandbox. */
function children(sandbox: Sandbox): number[] {
  return processesMatching(sandbox, "server-filesystem/dist/index.js");
}

describe("hosting server-filesystem with {project}", () => {
  test(
    "three sessions in two projects: exactly two children, each seeing only its own project",
    async () => {
      await using sandbox = new Sandbox(fsConfig());
      const opened: Session[] = [];
      try {
        const a = sandbox.project("alpha");
        const b = sandbox.project("beta");
        writeFileSync(join(a, "a.txt"), "in alpha");
        writeFileSync(join(b, "b.txt"), "in beta");
        const a1 = await openSession(sandbox, a, { target: "fs" });
        opened.push(a1);
        const a2 = await openSession(sandbox, a, { target: "fs" });
        opened.push(a2);
        const b1 = await openSession(sandbox, b, { target: "fs" });
        opened.push(b1);

        for (const s of [a1, a2]) {
          const listed = textOf(await s.client.callTool({ name: "list_allowed_directories", arguments: {} }));
          expect(listed).toContain(a);
          expect(listed).not.toContain(b);
          expect(textOf(await s.client.callTool({ name: "read_text_file", arguments: { path: join(a, "a.txt") } }))).toBe("in alpha");
          const denied = await s.client.callTool({ name: "read_text_file", arguments: { path: join(b, "b.txt") } });
          expect(denied.isError).toBe(true);
        }
        const listedB = textOf(await b1.client.callTool({ name: "list_allowed_directories", arguments: {} }));
        expect(listedB).toContain(b);
        expect(listedB).not.toContain(a);
        expect(children(sandbox)).toHaveLength(2);

        // What a person sees: both children, their projects and sessions, in `msm status --json` and the table.
        const status = await msm(sandbox, ["status", "--json"]);
        const fs = JSON.parse(status.stdout).targets.find((t: { name: string }) => t.name === "fs");
        expect(fs.kind).toBe("hosted");
        const rows = fs.children.map((c: { project: string; sessions: number; state: string; pid: number }) => [c.project, c.sessions, c.state]).sort();
        expect(rows).toEqual(
          [
            [a, 2, "running"],
            [b, 1, "running"],
          ].sort(),
        );
        const table = await msm(sandbox, ["status"]);
        // The table keeps to 80 columns: a long project path shows its end, the part that names the project.
        expect(table.stdout).toContain(`${basename(a)}  `);
        expect(table.stdout).toContain(`${basename(b)}  `);

        // `msm stop fs` takes the host and both children down: nothing left running.
        const stopped = await msm(sandbox, ["stop", "fs"]);
        expect(stopped.code).toBe(0);
        await waitFor(() => children(sandbox).length === 0, 15_000, "no server-filesystem child left");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    'share "global": sessions in two projects get one child; share "session": one child each, gone when its session leaves',
    async () => {
      await using shared = new Sandbox({
        targets: {
          memory: { port: 0 },
          everywhere: { command: NODE, args: [FILESYSTEM, "/tmp"], share: "global" },
          mine: { command: NODE, args: [FILESYSTEM, "{project}"], share: "session", idleMinutes: 0.02 },
        },
      });
      const opened: Session[] = [];
      try {
        const a = shared.project("a");
        const b = shared.project("b");
        for (const p of [a, b]) opened.push(await openSession(shared, p, { target: "everywhere" }));
        for (const s of opened) expect(textOf(await s.client.callTool({ name: "list_allowed_directories", arguments: {} }))).toContain("/tmp");
        const status = async () =>
          JSON.parse((await msm(shared, ["status", "--json"])).stdout).targets as {
            name: string;
            children: { project: string | null; sessions: number; pid: number }[];
          }[];
        const global = (await status()).find((t) => t.name === "everywhere")!;
        expect(global.children).toHaveLength(1);
        expect(global.children[0]).toMatchObject({ project: null, sessions: 2 });

        const m1 = await openSession(shared, a, { target: "mine" });
        const m2 = await openSession(shared, a, { target: "mine" });
        opened.push(m1, m2);
        // Each uses its server (a session the discovery cache answered has no child until it does).
        for (const s of [m1, m2]) expect(textOf(await s.client.callTool({ name: "list_allowed_directories", arguments: {} }))).toContain(a);
        const mine = (await status()).find((t) => t.name === "mine")!;
        expect(mine.children.map((c) => c.sessions)).toEqual([1, 1]);
        const [first, second] = mine.children.map((c) => c.pid);
        await m1.close();
        // About a second after its session left, its child stops; the other session's child stays.
        await waitFor(async () => !alive(first!) || !alive(second!), 20_000, "the left session's child to stop");
        expect(textOf(await m2.client.callTool({ name: "list_allowed_directories", arguments: {} }))).toContain(a);
        expect((await status()).find((t) => t.name === "mine")!.children).toHaveLength(1);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "twenty sessions opening at once in one project get one child",
    async () => {
      await using sandbox = new Sandbox(fsConfig());
      let opened: Session[] = [];
      try {
        const p = sandbox.project("crowd");
        writeFileSync(join(p, "x.txt"), "x");
        opened = await Promise.all(Array.from({ length: 20 }, () => openSession(sandbox, p, { target: "fs" })));
        const answers = await Promise.all(opened.map((s) => s.client.callTool({ name: "read_text_file", arguments: { path: join(p, "x.txt") } })));
        for (const answer of answers) expect(textOf(answer)).toBe("x");
        expect(children(sandbox)).toHaveLength(1);
        const host = sandbox.lock("fs")!;
        expect(alive(host.pid)).toBe(true);
        // The child's stderr lands in the target's log, tagged with its project.
        const log = readFileSync(join(sandbox.msmHome, "logs", "fs.log"), "utf8");
        expect(log).toContain(`[${p}] Secure MCP Filesystem Server running on stdio`);
        // These clients declared no roots, and msm never invents any: the server keeps the folder it was given.
        expect(log).toContain(`[${p}] Client does not support MCP Roots, using allowed directories set from server args`);
        const logs = await msm(sandbox, ["logs", "fs", "-n", "200"]);
        expect(logs.stdout).toContain("Secure MCP Filesystem Server");
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    },
    SLOW,
  );

  test(
    "a shell-script target: {project:sh} hands a hostile folder name over as one word; the plain {project} there is refused",
    async () => {
      const sandbox = new Sandbox({
        targets: {
          memory: { port: 0 },
          // "$0" and "$1" are node and the server: only the project goes through the placeholder.
          quoted: { command: "sh", args: ["-c", 'exec "$0" "$1" {project:sh}', NODE, FILESYSTEM] },
          pasted: { command: "sh", args: ["-c", `exec "$0" "$1" '{project}'`, NODE, FILESYSTEM] },
        },
      });
      const opened: Session[] = [];
      try {
        // A folder a cloned repository or an archive could be unpacked into. (Not ending in a quote: server-filesystem
        // strips one quote from each end of the folder it is given.)
        const project = sandbox.project("p';touch PWNED;'x");
        const session = await openSession(sandbox, project, { target: "quoted" });
        opened.push(session);
        expect(textOf(await session.client.callTool({ name: "list_allowed_directories", arguments: {} }))).toContain(project);
        expect(existsSync(join(project, "PWNED"))).toBe(false);

        // The plain form inside the script: the target is invalid, says why and what to write; nothing ran.
        const refused = await openSession(sandbox, project, { target: "pasted" }).then(
          () => "connected",
          (e: Error) => e.message,
        );
        expect(refused).not.toBe("connected");
        const status = await msm(sandbox, ["status", "--json"]);
        expect(status.code).toBe(1);
        const row = JSON.parse(status.stdout).targets.find((t: { name: string }) => t.name === "pasted");
        expect(row.state).toBe("invalid");
        expect(row.note).toContain('targets.pasted: "{project}" is pasted into the sh -c script as it is');
        expect(row.note).toContain('Write "{project:sh}" in the script instead');
        expect(existsSync(join(project, "PWNED"))).toBe(false);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await sandbox.cleanup();
      }
    },
    SLOW,
  );
});
