// Sessions sharing a hosted child: each session's transcript through msm must equal the transcript of the same
// script run directly (its own server, as the editor runs it) — whatever the other sessions on that child do at the
// same time, whichever of them came first, whatever protocol version and capabilities each declared, and for every
// sharing mode. The direct runs of a group run together too (each with its own server), so scripts that wait on
// each other behave the same on both sides.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { EVERYTHING, NODE } from "../../helpers/hosted.ts";
import { Sandbox } from "../../helpers/sandbox.ts";
import {
  differences,
  dump,
  runSession,
  type Capabilities,
  type Launch,
  type Message,
  type Scripted,
  type Transcript,
  type Version,
} from "../../helpers/transcript.ts";
import { BUN, RAW, everything, makeFolders, msmLaunch, type Folders } from "./servers.ts";

const SLOW = 120_000;
/** Groups dumped so far (MSM_TRANSPARENCY_DUMP=DIR writes each session's two transcripts there). */
let dumped = 0;

interface Member {
  name: string;
  version: Version;
  capabilities: Capabilities;
  /** The project folder the session runs in (through msm, the child it gets depends on it and on `share`). */
  project: string;
  script: (s: Scripted) => Promise<void>;
}

/**
 * Runs a group of sessions at once, each started after the previous one connected (the arrival order), every script
 * concurrently; `launch` says where each goes. Returns the transcripts in the group's order.
 */
async function together(members: Member[], launch: (m: Member) => Launch): Promise<Transcript[]> {
  const runs: Promise<Transcript>[] = [];
  for (const m of members) {
    let connected!: () => void;
    const isConnected = new Promise<void>((resolve) => (connected = resolve));
    const run = runSession(m.name, m.version, m.capabilities, launch(m), m.script, { connected: () => connected() });
    runs.push(run);
    await Promise.race([isConnected, run]);
  }
  return Promise.all(runs);
}

/** A promise with its resolver: a point one script waits at until another script reaches it. */
function signal(): { reached: () => void; wait: Promise<void> } {
  let reached!: () => void;
  const wait = new Promise<void>((resolve) => (reached = resolve));
  return { reached, wait };
}

describe("sessions sharing a hosted child each see what they would see directly", () => {
  let sandbox: Sandbox;
  let folders: Folders;
  const direct =
    (command: string, args: string[]) =>
    (m: Member): Launch => ({ command, args, env: sandbox.env, cwd: m.project, serverLog: () => "" });

  beforeAll(() => {
    sandbox = new Sandbox();
    folders = makeFolders(sandbox.root);
    // lazy: false — these scripts wait on what the server does on its own right after `initialized` (it asks for
    // roots), which a session answered from the discovery cache sees only at its first call (docs/hosted.md). This
    // file is about sessions sharing a running child; the cache's own transcripts are in matrix.test.ts.
    const server = { command: NODE, args: [EVERYTHING, "stdio"], lazy: false };
    const config = {
      targets: {
        memory: { port: 0 },
        everything: server,
        "everything-global": { ...server, share: "global" },
        "everything-session": { ...server, share: "session" },
        raw: { command: BUN, args: [RAW], lazy: false },
      },
    };
    writeFileSync(join(sandbox.msmHome, "config.json"), JSON.stringify(config, null, 2));
  });
  afterAll(async () => {
    await sandbox.cleanup();
  });

  /**
   * The one documented difference here (docs/hosted.md, "What msm changes"): log lines a shared server writes about
   * housekeeping msm does once per child — the first subscribe and last unsubscribe of a resource (subscriptions are
   * counted per session), the roots of a joining session that gave the same ones — are written once for the child,
   * not once per session. Log routing itself is checked by the logging test below.
   */
  const SUBSCRIPTION_LOGS =
    /^unsolicited, only (directly|through msm): .*"notifications\/message".*"(Received (Subscribe|Unsubscribe) Resource request|Roots updated)/;

  /** Runs the group directly and through `target`, and expects each session's two transcripts to be equal. */
  async function compare(target: string, makeMembers: () => Member[], directly = direct(NODE, [EVERYTHING, "stdio"])): Promise<void> {
    // Independent of each other: the direct group and the msm group run at the same time.
    const members = makeMembers();
    const [expected, seen] = await Promise.all([together(makeMembers(), directly), together(members, (m) => msmLaunch(sandbox, target, m.project))]);
    if (process.env.MSM_TRANSPARENCY_DUMP) {
      for (const [i, m] of members.entries())
        dump(process.env.MSM_TRANSPARENCY_DUMP, `${target}-${++dumped}-${m.name}`, { direct: expected[i]!, msm: seen[i]! });
    }
    const report = members.map((m, i) => ({
      session: `${m.name} (${m.version}, ${Object.keys(m.capabilities).join("+") || "no capabilities"})`,
      differences: differences(expected[i]!, seen[i]!).filter((d) => !SUBSCRIPTION_LOGS.test(d)),
    }));
    expect(report).toEqual(members.map((_, i) => ({ session: report[i]!.session, differences: [] })));
  }

  const caps = (): Capabilities => ({ roots: [folders.roots], sampling: true, elicitation: true });
  const script = (s: Scripted) => everything.script(s, folders);

  // Every sharing mode: two sessions with everything declared run the whole server-everything script at once —
  // sampling, elicitation, roots, progress and cancellation of one while the other is mid-call.
  for (const [target, share] of [
    ["everything", "project"],
    ["everything-global", "global"],
    ["everything-session", "session"],
  ] as const) {
    test(
      `share: ${share} — two sessions running the full server-everything script at once`,
      async () => {
        const p1 = sandbox.project(`share-${share}-1`);
        const p2 = share === "global" ? sandbox.project(`share-${share}-2`) : p1;
        await compare(target, () => [
          { name: "A", version: "2025-11-25", capabilities: caps(), project: p1, script },
          { name: "B", version: "2025-11-25", capabilities: caps(), project: p2, script },
        ]);
      },
      SLOW,
    );
  }

  // Two sessions of different protocol versions and capabilities on one child, in both arrival orders. (The table
  // is built before beforeAll made the folders: `roots: []` declares roots, filled in with the client folder below.)
  const all: Capabilities = { roots: [], sampling: true, elicitation: true };
  const pairs: [Omit<Member, "project" | "script">, Omit<Member, "project" | "script">][] = [
    [
      { name: "A", version: "2025-11-25", capabilities: all },
      { name: "B", version: "2024-11-05", capabilities: {} },
    ],
    [
      { name: "A", version: "2026-07-28", capabilities: all },
      { name: "B", version: "2025-06-18", capabilities: { sampling: true } },
    ],
    [
      { name: "A", version: "2025-03-26", capabilities: { roots: [] } },
      { name: "B", version: "2025-11-25", capabilities: { elicitation: true } },
    ],
  ];
  for (const [i, [x, y]] of pairs.entries()) {
    for (const order of [
      [x, y],
      [y, x],
    ]) {
      const label = order.map((m) => `${m.version} ${Object.keys(m.capabilities).join("+") || "no capabilities"}`).join(", then ");
      test(
        `one child, two sessions: ${label}`,
        async () => {
          const project = sandbox.project(`pair-${i}-${order[0]!.name}`);
          const fix = (c: Capabilities): Capabilities => (c.roots ? { ...c, roots: [folders.roots] } : c);
          await compare("everything", () => order.map((m) => ({ ...m, capabilities: fix(m.capabilities), project, script })));
        },
        SLOW,
      );
    }
  }

  test(
    "server→client requests of one session while another is mid-call: sampling, elicitation and roots reach the asker only",
    async () => {
      const project = sandbox.project("mid-call");
      await compare("everything", () => {
        const started = signal();
        const done = signal();
        return [
          {
            name: "A",
            version: "2025-11-25",
            capabilities: caps(),
            project,
            async script(s) {
              const call = s.request("tools/call", { name: "trigger-long-running-operation", arguments: { duration: 1.5, steps: 3 } }, { progress: true });
              await s.received((m: Message) => m.method === "notifications/progress", 5_000);
              started.reached();
              await done.wait;
              await call;
            },
          },
          {
            name: "B",
            version: "2025-11-25",
            capabilities: caps(),
            project,
            async script(s) {
              await started.wait;
              await s.request("tools/call", { name: "trigger-sampling-request", arguments: { prompt: "B asks", maxTokens: 5 } });
              await s.request("tools/call", { name: "trigger-elicitation-request", arguments: {} });
              await s.request("tools/call", { name: "get-roots-list", arguments: {} });
              done.reached();
            },
          },
        ];
      });
    },
    SLOW,
  );

  test(
    "logging levels, subscriptions and list_changed are each session's own",
    async () => {
      const project = sandbox.project("notifications");
      await compare(
        "raw",
        () => {
          const subscribed = signal();
          const bDone = signal();
          return [
            {
              name: "A",
              version: "2025-11-25",
              capabilities: {},
              project,
              async script(s) {
                await s.request("logging/setLevel", { level: "error" });
                await s.request("resources/subscribe", { uri: "raw://thing" });
                subscribed.reached();
                await bDone.wait;
                await s.request("tools/call", { name: "log", arguments: {} });
                await s.request("tools/call", { name: "changed", arguments: {} });
                await s.request("resources/unsubscribe", { uri: "raw://thing" });
                await s.request("ping");
              },
            },
            {
              name: "B",
              version: "2025-06-18",
              capabilities: {},
              project,
              async script(s) {
                await subscribed.wait;
                await s.request("logging/setLevel", { level: "debug" });
                await s.request("tools/call", { name: "log", arguments: {} });
                await s.request("tools/call", { name: "changed", arguments: {} });
                await s.request("ping");
                bDone.reached();
              },
            },
          ];
        },
        direct(BUN, [RAW]),
      );
    },
    SLOW,
  );
});
