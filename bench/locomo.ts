// A LoCoMo-format folder (Maharana et al., ACL 2024: long conversations with questions whose evidence turns are
// annotated) as memory graphs: one entity per session, one observation per turn. The data stays where it is; only
// its path is given to the bench.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Turn {
  dia: string;
  observation: string;
}
export interface Session {
  name: string;
  entityType: string;
  turns: Turn[];
}
export interface Question {
  question: string;
  /** The dia_ids of the turns that hold the answer (only ids that exist in the conversation). */
  evidence: string[];
  category: number;
}
export interface Conversation {
  id: string;
  sessions: Session[];
  questions: Question[];
}

/** LoCoMo's categories; 5 (adversarial, no answer in the conversation) has no evidence to retrieve and is left out. */
export const CATEGORIES: Record<number, string> = { 1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop" };

interface RawTurn {
  speaker: string;
  dia_id: string;
  text: string;
  blip_caption?: string;
}
interface RawConversation {
  conversation_id: string;
  sessions: { session: number; date_time: string; turns: RawTurn[] }[];
  qa: { question: string; evidence: string[]; category: number }[];
}

/**
 * Each `*.json` of the folder. A turn becomes `[date] Speaker: text`, with the session's date (LoCoMo's questions
 * are often about when); a turn that shared an image gets its caption, as `[image: …]` (what the data says the
 * speaker showed), unless `captions` is false.
 */
export function loadConversations(dir: string, options: { captions: boolean }): Conversation[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  if (files.length === 0) throw new Error(`${dir} holds no LoCoMo conversation (*.json); pass --data with the folder of the conversations`);
  return files.map((file) => {
    const raw = JSON.parse(readFileSync(join(dir, file), "utf8")) as RawConversation;
    const sessions = raw.sessions.map((s) => ({
      name: `session ${s.session}`,
      entityType: "conversation session",
      turns: s.turns.map((t) => ({
        dia: t.dia_id,
        observation: `[${s.date_time}] ${t.speaker}: ${t.text}${options.captions && t.blip_caption ? ` [image: ${t.blip_caption}]` : ""}`,
      })),
    }));
    const ids = new Set(sessions.flatMap((s) => s.turns.map((t) => t.dia)));
    const questions = raw.qa
      .filter((q) => CATEGORIES[q.category] !== undefined)
      // A few evidence entries hold two ids in one string ("D8:6; D9:17").
      .map((q) => ({
        question: q.question,
        category: q.category,
        evidence: [...new Set(q.evidence.flatMap((e) => e.split(/[;,\s]+/)).filter((e) => ids.has(e)))],
      }))
      .filter((q) => q.evidence.length > 0);
    return { id: raw.conversation_id ?? file.replace(/\.json$/, ""), sessions, questions };
  });
}

/** Maps a recalled observation back to its turn(s): identical turns in one session are stored once. */
export function turnIndex(conversation: Conversation): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const s of conversation.sessions) {
    for (const t of s.turns) {
      const key = `${s.name}\u0000${t.observation}`;
      index.set(key, [...(index.get(key) ?? []), t.dia]);
    }
  }
  return index;
}

export const K = [5, 10, 20] as const;

/** Recall@k (share of the evidence in the top k) and hit@k (any of it there) for one question. */
export function scoreQuestion(evidence: string[], ranked: string[][]): { recall: number[]; hit: number[] } {
  const recall: number[] = [];
  const hit: number[] = [];
  for (const k of K) {
    const found = new Set(ranked.slice(0, k).flat());
    const n = evidence.filter((e) => found.has(e)).length;
    recall.push(n / evidence.length);
    hit.push(n > 0 ? 1 : 0);
  }
  return { recall, hit };
}

/** Sums of per-question scores, by a label (overall, a category, a conversation). */
export class Tally {
  private readonly rows = new Map<string, { n: number; recall: number[]; hit: number[] }>();

  add(labels: string[], score: { recall: number[]; hit: number[] }): void {
    for (const label of labels) {
      const row = this.rows.get(label) ?? { n: 0, recall: K.map(() => 0), hit: K.map(() => 0) };
      row.n++;
      for (let i = 0; i < K.length; i++) {
        row.recall[i]! += score.recall[i]!;
        row.hit[i]! += score.hit[i]!;
      }
      this.rows.set(label, row);
    }
  }

  get(label: string): { n: number; recall: number[]; hit: number[] } | undefined {
    return this.rows.get(label);
  }

  /** R@10 of a label, in percent. */
  r10(label: string): number {
    const row = this.rows.get(label);
    return row ? (100 * row.recall[1]!) / row.n : Number.NaN;
  }

  table(labels: string[]): string {
    const pct = (v: number, n: number) => `${((100 * v) / n).toFixed(1)} %`;
    return [
      "| questions | n | R@5 | R@10 | R@20 | hit@5 | hit@10 | hit@20 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...labels.flatMap((label) => {
        const row = this.rows.get(label);
        return row ? [`| ${label} | ${row.n} | ${row.recall.map((v) => pct(v, row.n)).join(" | ")} | ${row.hit.map((v) => pct(v, row.n)).join(" | ")} |`] : [];
      }),
    ].join("\n");
  }
}
