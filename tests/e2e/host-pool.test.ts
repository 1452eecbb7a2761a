// A pool of children (`instances`) for sessions that would share one: real server-everything and server-filesystem
// children, real SDK clients through `dist/msm proxy`. What must hold: new sessions spread over the instances (the
// least loaded first), a session stays on its instance for its life (a resource it made there stays readable), a
// crash of one instance leaves the others serving, and `msm status` shows each instance.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EVERYTHING, FILESYSTEM, NODE, textOf } from "../helpers/hosted.ts";
import { Sandbox, alive, kill, msm, openSession, processesMatching, waitFor, type Session } from "../helpers/sandbox.ts";

const SLOW = 120_000;

interface Row {
  project: string | null;
  state: string;
  pid: number | null;
  sessions: number;
  instance?: number;
}

async function childrenOf(sandbox: Sandbox, name: string): Promise<Row[]> {
  const status = await msm(sandbox, ["status", "--json"]);
  const target = JSON.parse(status.stdout).targets.find((t: { name: string }) => t.name === name);
  return (target?.children ?? []) as Row[];
}

/** The session resource server-everything keeps in the process that made it (gone in any other child). */
async function makeResource(session: Session, name: string): Promise<string> {
  const data = `data:text/plain;base64,${Buffer.from(`made by ${name}`).toString("base64")}`;
  const made = await session.client.callTool({ name: "gzip-file-as-resource", arguments: { name, data, outputType: "resourceLink" } });
  expect(made.isError).toBeFalsy();
  return `demo://resource/session/${name}`;
}

async function readable(session: Session, uri: string): Promise<boolean> {
  try {
    const read = await session.client.readResource({ uri });
    return read.contents.length === 1;
  } catch {
    return false;
  }
}

describe("a pool of children (instances)", () => {
  test(
    "six sessions over three instances: spread two by two, each pinned to its instance for 20 rounds",
    async () => {
      await using sandbox = new Sandbox({
        targets: { memory: { port: 0 }, everything: { command: NODE, args: [EVERYTHING, "stdio"], instances: 3, lazy: false } },
      });
      const project = sandbox.project("p");
      const sessions: Session[] = [];
      try {
        // One after the other, each with a call, so where each lands is certain: 1, 2, 3, then 1, 2, 3 again.
        const uris: string[] = [];
        for (let i = 0; i < 6; i++) {
          const session = await openSession(sandbox, project, { target: "everything" });
          sessions.push(session);
          uris.push(await makeResource(session, `s${i}.gz`));
        }
        const rows = await childrenOf(sandbox, "everything");
        expect(rows.map((r) => [r.instance, r.sessions, r.state]).sort()).toEqual([
          [1, 2, "running"],
          [2, 2, "running"],
          [3, 2, "running"],
        ]);
        const pids = rows.map((r) => r.pid);
        expect(new Set(pids).size).toBe(3);
        expect(processesMatching(sandbox, "server-everything/dist/index.js").sort()).toEqual([...pids].sort() as number[]);

        // Every session reads its own resource, round after round: it is always at the child that made it.
        for (let round = 0; round < 20; round++) {
          const results = await Promise.all(sessions.map((s, i) => readable(s, uris[i]!)));
          expect(results).toEqual([true, true, true, true, true, true]);
        }
        // Session 3 shares instance 1 with session 0; session 1 is at instance 2, which never made s0.gz.
        expect(await readable(sessions[3]!, uris[0]!)).toBe(true);
        expect(await readable(sessions[1]!, uris[0]!)).toBe(false);

        // What a person sees: one row per instance, numbered.
        const table = await msm(sandbox, ["status"]);
        for (const n of [1, 2, 3]) expect(table.stdout).toContain(`#${n}`);
      } finally {
        for (const s of sessions) await s.close();
      }
    },
    SLOW,
  );

  test(
    "a crash of one instance: the other instances' sessions go on undisturbed, the crashed one is restarted",
    async () => {
      await using sandbox = new Sandbox({
        targets: { memory: { port: 0 }, fs: { command: NODE, args: [FILESYSTEM, "{project}"], instances: 2, lazy: false } },
      });
      const project = sandbox.project("p");
      writeFileSync(join(project, "f.txt"), "hello");
      const sessions: Session[] = [];
      const read = (s: Session) => s.client.callTool({ name: "read_text_file", arguments: { path: join(project, "f.txt") } });
      try {
        for (let i = 0; i < 4; i++) {
          const session = await openSession(sandbox, project, { target: "fs" });
          sessions.push(session);
          expect(textOf(await read(session))).toBe("hello");
        }
        const rows = await childrenOf(sandbox, "fs");
        expect(rows.map((r) => [r.instance, r.sessions]).sort()).toEqual([
          [1, 2],
          [2, 2],
        ]);
        const victim = rows.find((r) => r.instance === 2)!.pid!;
        const survivor = rows.find((r) => r.instance === 1)!.pid!;
        kill(victim, "SIGKILL");
        await waitFor(() => !alive(victim), 10_000, "the killed instance to be gone");
        // Sessions 0 and 2 are at instance 1: not one call of theirs fails meanwhile.
        for (let round = 0; round < 20; round++) {
          const answers = await Promise.all([read(sessions[0]!), read(sessions[2]!)]);
          for (const answer of answers) expect(textOf(answer)).toBe("hello");
        }
        expect(alive(survivor)).toBe(true);
        // Instance 2 comes back (backoff) and its sessions carry on there.
        const back = await waitFor(
          async () => (await childrenOf(sandbox, "fs")).find((r) => r.instance === 2 && r.state === "running" && r.pid !== victim),
          20_000,
          "instance 2 to run again",
        );
        expect(back.sessions).toBe(2);
        for (const s of [sessions[1]!, sessions[3]!]) expect(textOf(await read(s))).toBe("hello");
        expect((await childrenOf(sandbox, "fs")).find((r) => r.instance === 1)!.pid).toBe(survivor);
      } finally {
        for (const s of sessions) await s.close();
      }
    },
    SLOW,
  );

  test(
    "a new session goes to the least loaded instance; without instances there is one child, as before",
    async () => {
      await using sandbox = new Sandbox({
        targets: {
          memory: { port: 0 },
          fs: { command: NODE, args: [FILESYSTEM, "{project}"], instances: 2, lazy: false },
          single: { command: NODE, args: [FILESYSTEM, "{project}"], lazy: false },
        },
      });
      const project = sandbox.project("p");
      writeFileSync(join(project, "f.txt"), "hello");
      const sessions: Session[] = [];
      const open = async (target: string) => {
        const session = await openSession(sandbox, project, { target });
        sessions.push(session);
        await session.client.callTool({ name: "list_allowed_directories", arguments: {} });
        return session;
      };
      try {
        const a = await open("fs");
        await open("fs");
        await open("fs"); // instance 1 now has two sessions, instance 2 one
        await a.close();
        await waitFor(async () => (await childrenOf(sandbox, "fs")).find((r) => r.instance === 1 && r.sessions === 1), 10_000, "session a to leave");
        await open("fs"); // both have one: the first of them
        await open("fs"); // instance 1 has two: instance 2
        const rows = await childrenOf(sandbox, "fs");
        expect(rows.map((r) => [r.instance, r.sessions]).sort()).toEqual([
          [1, 2],
          [2, 2],
        ]);
        for (let i = 0; i < 3; i++) await open("single");
        const single = await childrenOf(sandbox, "single");
        expect(single.map((r) => [r.instance ?? null, r.sessions])).toEqual([[null, 3]]);
      } finally {
        for (const s of sessions) await s.close().catch(() => {});
      }
    },
    SLOW,
  );

  test(
    "an edit of instances applies to the running host without a restart: the next session may start instance 2",
    async () => {
      const fs = { command: NODE, args: [FILESYSTEM, "{project}"], lazy: false };
      await using sandbox = new Sandbox({ targets: { memory: { port: 0 }, fs } });
      const project = sandbox.project("p");
      const sessions: Session[] = [];
      const open = async () => {
        const session = await openSession(sandbox, project, { target: "fs" });
        sessions.push(session);
        await session.client.callTool({ name: "list_allowed_directories", arguments: {} });
      };
      const hostLog = () => {
        try {
          return readFileSync(join(sandbox.msmHome, "logs", "fs.log"), "utf8");
        } catch {
          return "";
        }
      };
      try {
        await open();
        await open();
        expect((await childrenOf(sandbox, "fs")).map((r) => [r.instance ?? null, r.sessions])).toEqual([[null, 2]]);
        const host = sandbox.lock("fs")!.pid;
        sandbox.writeConfig({ targets: { memory: { port: 0 }, fs: { ...fs, instances: 2 } } });
        await waitFor(() => hostLog().includes("up to 2 per key"), 10_000, "the host to be told");
        await open();
        expect(sandbox.lock("fs")!.pid).toBe(host);
        expect((await childrenOf(sandbox, "fs")).map((r) => [r.instance, r.sessions]).sort()).toEqual([
          [1, 2],
          [2, 1],
        ]);
        // Back to one: instance 2 takes no new session, and goes once its session left.
        const second = (await childrenOf(sandbox, "fs")).find((r) => r.instance === 2)!.pid!;
        sandbox.writeConfig({ targets: { memory: { port: 0 }, fs } });
        await waitFor(() => hostLog().includes("up to 1 per key"), 10_000, "the host to be told again");
        await sessions[2]!.close();
        await waitFor(async () => (await childrenOf(sandbox, "fs")).find((r) => r.instance === 2)?.sessions === 0, 10_000, "instance 2 to be left");
        await open();
        await waitFor(() => !alive(second), 10_000, "instance 2 to stop");
        expect((await childrenOf(sandbox, "fs")).map((r) => [r.instance, r.sessions])).toEqual([[1, 3]]);
      } finally {
        for (const s of sessions) await s.close();
      }
    },
    SLOW,
  );
});
