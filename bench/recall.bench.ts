/**
 * `recall` on a long-conversation benchmark, and its speed beside search_nodes.
 *
 *   npm run bench -- recall --data DIR        DIR: a LoCoMo-format folder (one conversation per *.json)
 *     --no-captions   leave out the captions of shared images
 *     --size N        observations in the speed project (default 100000; 0 skips the speed part)
 *     --postgres      also answer every question on a throwaway PostgreSQL and check the order is SQLite's
 *     --loo           how the constants were chosen: a small grid, each conversation held out in turn (in process)
 *
 * Quality: each conversation goes into a project of its own through the real `dist/msm proxy` (MCP SDK client over
 * stdio), one entity per session and one observation per turn (`[date] Speaker: text`); every question of
 * categories 1–4 is asked through `recall` (limit 20) in its conversation's project. R@k is the share of a
 * question's evidence turns in the top k, hit@k whether any is; both averaged over questions.
 * Speed: the conversations copied until the project holds N observations, then recall (limit 10) and search_nodes
 * (an entity's name; the question's longest word, as an agent searches; the whole question) timed through the proxy.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { GraphStore } from "../src/memory/sqlite/store.ts";
import { RECALL_TUNING, type RecallResult, type RecallTuning } from "../src/memory/recall.ts";
import { CATEGORIES, type Conversation, loadConversations, scoreQuestion, Tally, turnIndex } from "./locomo.ts";
import { median, p95, timed } from "./lib.ts";
import { Sandbox, openSession } from "../tests/helpers/sandbox.ts";
import { TestPostgres, postgresAvailable } from "../tests/helpers/postgres.ts";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(name);

const DATA = option("--data") ?? process.env.MSM_BENCH_LOCOMO;
const SIZE = Number(option("--size") ?? 100_000);
const SAMPLES = Number(process.env.MSM_BENCH_SAMPLES ?? 300);
const LIMIT = 20;

if (!DATA) {
  console.log("recall: skipped (no data). Run: npm run bench -- recall --data DIR, DIR a LoCoMo-format folder (see docs/benchmarks.md)");
  process.exit(0);
}
const conversations = loadConversations(DATA, { captions: !flag("--no-captions") });
const labels = ["all", ...Object.entries(CATEGORIES).map(([c, name]) => `${c} ${name}`), ...conversations.map((c) => `conversation ${c.id}`)];
const labelsOf = (c: Conversation, category: number) => ["all", `${category} ${CATEGORIES[category]}`, `conversation ${c.id}`];

type Recall = (query: string) => Promise<RecallResult[]>;

/** Loads one conversation through `load`, asks every question through `recall`; returns the ranked answers too. */
async function askAll(tally: Tally, conversation: Conversation, recall: Recall, times: number[]): Promise<RecallResult[][]> {
  const turns = turnIndex(conversation);
  const answers: RecallResult[][] = [];
  for (const q of conversation.questions) {
    const start = performance.now();
    const results = await recall(q.question);
    times.push(performance.now() - start);
    answers.push(results);
    const ranked = results.map((r) => turns.get(`${r.entity}\u0000${r.observation}`) ?? []);
    tally.add(labelsOf(conversation, q.category), scoreQuestion(q.evidence, ranked));
  }
  return answers;
}

const entitiesOf = (c: Conversation) => c.sessions.map((s) => ({ name: s.name, entityType: s.entityType, observations: s.turns.map((t) => t.observation) }));

async function callRecall(client: Client, query: string, limit = LIMIT): Promise<RecallResult[]> {
  const result = await client.callTool({ name: "recall", arguments: { query, limit } });
  if (result.isError) throw new Error(JSON.stringify(result.content));
  return (result.structuredContent as { results: RecallResult[] }).results;
}

/** Every conversation through the proxy on one backend (config: the sandbox's). */
async function quality(config: object, backend: string): Promise<{ tally: Tally; answers: RecallResult[][][]; times: number[] }> {
  await using sandbox = new Sandbox(config);
  const tally = new Tally();
  const answers: RecallResult[][][] = [];
  const times: number[] = [];
  for (const conversation of conversations) {
    process.stderr.write(`${backend}: conversation ${conversation.id} …\n`);
    const session = await openSession(sandbox, sandbox.project(`locomo-${conversation.id}`));
    const created = await session.client.callTool({ name: "create_entities", arguments: { entities: entitiesOf(conversation) } });
    if (created.isError) throw new Error(JSON.stringify(created.content));
    answers.push(await askAll(tally, conversation, (q) => callRecall(session.client, q), times));
    await session.close();
  }
  return { tally, answers, times };
}

const ms = (v: number) => `${v.toFixed(2)} ms`;
const out: string[] = [];

const lite = await quality({ targets: { memory: { port: 0 } } }, "sqlite");
const questions = conversations.reduce((n, c) => n + c.questions.length, 0);
const observations = conversations.reduce((n, c) => n + c.sessions.reduce((m, s) => m + s.turns.length, 0), 0);
out.push(
  `recall on ${DATA}: ${conversations.length} conversations, ${observations} turns, ${questions} questions (categories 1–4), captions ${flag("--no-captions") ? "off" : "on"}`,
  "",
  lite.tally.table(labels),
  "",
  `recall through the proxy at ${Math.round(observations / conversations.length)} observations per project: p50 ${ms(median(lite.times))}, p95 ${ms(p95(lite.times))}`,
);

if (flag("--postgres")) {
  if (!postgresAvailable()) out.push("", "PostgreSQL: skipped (initdb not installed)");
  else {
    const pg = await TestPostgres.start();
    try {
      const post = await quality({ targets: { memory: { port: 0, database: pg.url() } } }, "postgres");
      let same = 0;
      let total = 0;
      for (const [c, conversation] of post.answers.entries()) {
        for (const [q, answer] of conversation.entries()) {
          total++;
          if (JSON.stringify(answer) === JSON.stringify(lite.answers[c]![q])) same++;
        }
      }
      out.push(
        "",
        `PostgreSQL: R@10 ${post.tally.r10("all").toFixed(1)} %; ${same} of ${total} answers identical to SQLite's (order and scores); recall p50 ${ms(median(post.times))}`,
      );
    } finally {
      await pg.stop();
    }
  }
}

if (SIZE > 0) out.push("", ...(await speed(SIZE)));
if (flag("--loo")) out.push("", ...leaveOneOut());
console.log(out.join("\n"));

/** recall and search_nodes p50 on a project of `size` observations made of the conversations, copied. */
async function speed(size: number): Promise<string[]> {
  await using sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
  const session = await openSession(sandbox, sandbox.project("speed"));
  const entities: { name: string; entityType: string; observations: string[] }[] = [];
  let count = 0;
  for (let copy = 0; count < size; copy++) {
    for (const c of conversations) {
      for (const e of entitiesOf(c)) {
        if (count >= size) break;
        const observations = e.observations.slice(0, size - count);
        entities.push({ name: `conversation ${c.id} copy ${copy} ${e.name}`, entityType: e.entityType, observations });
        count += observations.length;
      }
    }
  }
  process.stderr.write(`speed: loading ${count} observations …\n`);
  const start = performance.now();
  for (let i = 0; i < entities.length; i += 200) {
    const result = await session.client.callTool({ name: "create_entities", arguments: { entities: entities.slice(i, i + 200) } });
    if (result.isError) throw new Error(JSON.stringify(result.content));
  }
  const loadSeconds = (performance.now() - start) / 1000;
  const all = conversations.flatMap((c) => c.questions.map((q) => q.question));
  const longestWord = (q: string) => q.split(/[^\p{L}\p{N}']+/u).reduce((a, b) => (b.length > a.length ? b : a), "");
  const recall: number[] = [];
  const name: number[] = [];
  const word: number[] = [];
  const whole: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const q = all[s % all.length]!;
    recall.push(await timed(() => session.client.callTool({ name: "recall", arguments: { query: q } })));
    name.push(await timed(() => session.client.callTool({ name: "search_nodes", arguments: { query: entities[(s * 7919) % entities.length]!.name } })));
    // Every match of a common word can be tens of megabytes (whole entities): the first page, as an editor asks.
    word.push(await timed(() => session.client.callTool({ name: "search_nodes", arguments: { query: longestWord(q), limit: 10 } })));
    whole.push(await timed(() => session.client.callTool({ name: "search_nodes", arguments: { query: q } })));
  }
  await session.close();
  const row = (name: string, t: number[]) => `| ${name} | ${ms(median(t))} | ${ms(p95(t))} |`;
  return [
    `Speed through the proxy, one project of ${count.toLocaleString("en")} observations (${entities.length.toLocaleString("en")} entities; loaded through create_entities at ${Math.round(count / loadSeconds).toLocaleString("en")} observations/s), ${SAMPLES} questions:`,
    "",
    "| call | p50 | p95 |",
    "|---|---:|---:|",
    row("recall (the question; 10 observations)", recall),
    row("search_nodes (an entity's name)", name),
    row("search_nodes (the question's longest word; first 10 entities)", word),
    row("search_nodes (the whole question; no match)", whole),
  ];
}

/**
 * The constants against a small grid, each conversation held out in turn: the variant with the best R@10 on the
 * others is scored on the held-out one. In process (the same GraphStore.recall the daemon runs).
 */
function leaveOneOut(): string[] {
  const variants: { label: string; tuning: RecallTuning }[] = [];
  for (const b of [0.5, 0.75])
    for (const base of [0, 0.3, 0.5, 0.7])
      for (const span of base === 0 ? [0] : [1, 2, 3])
        for (const entityShare of [0, 0.1, 0.2, 0.3]) {
          const neighbourWeights = Array.from({ length: span }, (_, k) => base ** (k + 1));
          variants.push({
            label: `b ${b}, neighbours ${base}^d over ${span}, entity share ${entityShare}`,
            tuning: { bm25: { k1: 1.2, b }, neighbourWeights, entityShare },
          });
        }
  const dir = mkdtempSync(join(tmpdir(), "msm-recall-loo-"));
  try {
    const stores = conversations.map((c, i) => {
      const store = new GraphStore(join(dir, `${i}.db`));
      store.createEntities(entitiesOf(c));
      return store;
    });
    const tallies = variants.map(({ tuning }) => {
      const tally = new Tally();
      conversations.forEach((c, i) => {
        const turns = turnIndex(c);
        for (const q of c.questions) {
          const ranked = stores[i]!.recall(q.question, { limit: LIMIT }, tuning).map((r) => turns.get(`${r.entity}\u0000${r.observation}`) ?? []);
          tally.add(labelsOf(c, q.category), scoreQuestion(q.evidence, ranked));
        }
      });
      return tally;
    });
    for (const store of stores) store.close();
    const lines = ["Leave one conversation out (R@10; the variant best on the other conversations, scored on the held-out one):", ""];
    lines.push("| held out | chosen on the others | its R@10 there | R@10 held out | the shipped constants held out |", "|---|---|---:|---:|---:|");
    const shipped = variants.findIndex((v) => JSON.stringify(v.tuning) === JSON.stringify(RECALL_TUNING));
    let found = 0;
    let asked = 0;
    for (const held of conversations) {
      const others = conversations.filter((c) => c !== held);
      const onOthers = (t: Tally) => {
        const rows = others.map((c) => t.get(`conversation ${c.id}`)!);
        return (100 * rows.reduce((a, r) => a + r.recall[1]!, 0)) / rows.reduce((a, r) => a + r.n, 0);
      };
      const best = tallies.reduce((a, t, i) => (onOthers(t) > onOthers(tallies[a]!) ? i : a), 0);
      const label = `conversation ${held.id}`;
      const row = tallies[best]!.get(label)!;
      found += row.recall[1]!;
      asked += row.n;
      lines.push(
        `| ${held.id} | ${variants[best]!.label} | ${onOthers(tallies[best]!).toFixed(1)} % | ${tallies[best]!.r10(label).toFixed(1)} % | ${shipped >= 0 ? `${tallies[shipped]!.r10(label).toFixed(1)} %` : "–"} |`,
      );
    }
    lines.push(
      "",
      `Pooled held-out R@10: ${((100 * found) / asked).toFixed(1)} % (the shipped constants on all: ${shipped >= 0 ? `${tallies[shipped]!.r10("all").toFixed(1)} %` : "not in the grid"}).`,
    );
    const ranked = variants.map((v, i) => ({ v, r: tallies[i]!.r10("all") })).sort((a, b) => b.r - a.r);
    lines.push("", "Best variants on all conversations:", "", ...ranked.slice(0, 5).map(({ v, r }) => `- ${v.label}: ${r.toFixed(1)} %`));
    // What each part of the shipped ranking adds (the grid holds each step).
    const step = (weights: number[], entityShare: number) =>
      tallies[
        variants.findIndex(
          (v) => v.tuning.bm25.b === 0.75 && JSON.stringify(v.tuning.neighbourWeights) === JSON.stringify(weights) && v.tuning.entityShare === entityShare,
        )
      ]!;
    lines.push(
      "",
      "| ranking (b 0.75) | R@5 | R@10 | R@20 |",
      "|---|---:|---:|---:|",
      ...(
        [
          ["BM25, stemmed, stopwords out", step([], 0)],
          ["… + neighbouring observations (½, ¼)", step([0.5, 0.25], 0)],
          ["… + the entity's best match (⅕): shipped", step([0.5, 0.25], 0.2)],
        ] as const
      ).map(([label, t]) => {
        const row = t.get("all")!;
        return `| ${label} | ${row.recall.map((v) => `${((100 * v) / row.n).toFixed(1)} %`).join(" | ")} |`;
      }),
    );
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
