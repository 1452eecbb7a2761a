// The isolation proof: server→client requests (sampling, elicitation) from several sessions sharing one hosted
// server-everything child, all at once — over a thousand of them — and not one may reach another session. Each
// session's client answers with its own name; each tool result must come back to the session that called the tool,
// carrying that session's answer, and each sampling prompt must reach the session whose call caused it. Directly
// (a server per session) this holds by construction; through msm the child cannot say which call caused a request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { EVERYTHING, NODE, textOf } from "../../helpers/hosted.ts";
import { Sandbox, openSession, type Session } from "../../helpers/sandbox.ts";
import { answers } from "../../helpers/transcript.ts";

/** Calls each session keeps in flight at once. */
const IN_FLIGHT = 8;
const CALL_TIMEOUT_MS = 30_000;

interface Tally {
  name: string;
  /** Prompts this session's client was asked to sample, by the tag in them. */
  prompts: string[];
  elicited: number;
}

/** A session that answers sampling and elicitation with its own name, counting what it was asked. */
async function namedSession(sandbox: Sandbox, project: string, target: string, tally: Tally): Promise<Session> {
  return openSession(sandbox, project, {
    target,
    clientName: tally.name,
    capabilities: { sampling: {}, elicitation: {} },
    setup: (client: Client) => {
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        const content = request.params.messages[0]?.content as { text?: string } | undefined;
        tally.prompts.push(/tag:(\S+)/.exec(content?.text ?? "")?.[1] ?? "?");
        return answers.sampling(tally.name);
      });
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        tally.elicited++;
        return answers.elicitation(tally.name, (request.params as { requestedSchema?: unknown }).requestedSchema);
      });
    },
  });
}

/**
 * One session per entry of `projects`, all on `target`, each making `samples` sampling and `elicits` elicitation
 * calls (interleaved, IN_FLIGHT at a time) while every other session does the same. Asserts 0 misrouted.
 */
async function prove(sandbox: Sandbox, target: string, projects: string[], samples: number, elicits: number): Promise<void> {
  const tallies: Tally[] = projects.map((_, i) => ({ name: `S${i}`, prompts: [], elicited: 0 }));
  const sessions: Session[] = [];
  try {
    for (const [i, project] of projects.entries()) sessions.push(await namedSession(sandbox, project, target, tallies[i]!));
    const astray: string[] = [];
    const unanswered: string[] = [];
    const started = Date.now();
    await Promise.all(
      sessions.map(async (session, s) => {
        const { name } = tallies[s]!;
        // A result carrying another session's answer went astray; one carrying no client's answer at all (an
        // error msm made up, a timeout) is a call that did not get what it would have got directly.
        const check = (what: string, result: string, own: string) => {
          if (result.includes(own)) return;
          if (tallies.some((t) => t.name !== name && result.includes(own.replace(name, t.name)))) astray.push(`${what}: ${result.slice(0, 200)}`);
          else unanswered.push(`${what}: ${result.slice(0, 200)}`);
        };
        const sample = (i: number) => async () => {
          const result = await session.client
            .callTool({ name: "trigger-sampling-request", arguments: { prompt: `tag:${name}-${i} `, maxTokens: 5 } }, undefined, { timeout: CALL_TIMEOUT_MS })
            .then(textOf, (e: Error) => `error: ${e.message}`);
          check(`${name}-${i}`, result, `sampled by ${name}"`);
        };
        const elicit = (i: number) => async () => {
          const result = await session.client.callTool({ name: "trigger-elicitation-request", arguments: {} }, undefined, { timeout: CALL_TIMEOUT_MS }).then(textOf, (e: Error) => `error: ${e.message}`);
          check(`${name} elicitation ${i}`, result, `name of ${name}\n`);
        };
        const calls = Array.from({ length: Math.max(samples, elicits) }, (_, i) => [...(i < samples ? [sample(i)] : []), ...(i < elicits ? [elicit(i)] : [])]).flat();
        let next = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (next < calls.length) await calls[next++]!();
          }),
        );
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const asked = tallies.reduce((n, t) => n + t.prompts.length + t.elicited, 0);
    const stray = tallies.flatMap((t) => t.prompts.filter((tag) => !tag.startsWith(`${t.name}-`)).map((tag) => `${tag} reached ${t.name}`));
    console.log(
      `isolation (${target}): ${asked} server→client requests answered in ${seconds.toFixed(1)} s; ${stray.length} prompts reached the wrong session; of ${projects.length * (samples + elicits)} tool results ${astray.length} carried another session's answer, ${unanswered.length} no client's answer`,
    );
    expect(stray.slice(0, 10)).toEqual([]);
    expect(astray.slice(0, 10)).toEqual([]);
    // Directly every call is answered by its own client: a request msm refused or lost is a difference too.
    expect(unanswered.slice(0, 10)).toEqual([]);
    // Every call caused exactly one request, answered by its own session's client.
    for (const t of tallies) {
      expect(t.prompts).toHaveLength(samples);
      expect(t.elicited).toBe(elicits);
    }
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}

describe("isolation: server→client requests from concurrent sessions on one shared child", () => {
  let sandbox: Sandbox;

  beforeAll(() => {
    const everything = { command: NODE, args: [EVERYTHING, "stdio"] };
    sandbox = new Sandbox({ targets: { memory: { port: 0 }, everything, everywhere: { ...everything, share: "global" } } });
  });
  afterAll(async () => {
    await sandbox.cleanup();
  });

  test(
    "share: project, 4 sessions × (150 sampling + 100 elicitation) = 1,000 requests: 0 reach the wrong session",
    async () => {
      const project = sandbox.project("shared");
      await prove(sandbox, "everything", [project, project, project, project], 150, 100);
    },
    120_000,
  );

  test(
    "share: global, 2 sessions in each of 2 projects × (50 + 50): 0 reach another session or project",
    async () => {
      const a = sandbox.project("a");
      const b = sandbox.project("b");
      await prove(sandbox, "everywhere", [a, a, b, b], 50, 50);
    },
    120_000,
  );
});
