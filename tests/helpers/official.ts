import { mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/** The reference implementation msm must answer like, run the way its users run it: node over stdio. */
export const OFFICIAL_MEMORY = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-memory/dist/index.js");

export interface OfficialServer {
  client: Client;
  file: string;
  pid: number;
  close: () => Promise<void>;
}

/** Starts the official memory server on a JSONL file in a fresh temp folder under `root` (or a given file). */
export async function startOfficial(root: string, file?: string): Promise<OfficialServer> {
  const memoryFile = file ?? join(mkdtempSync(join(root, "official-")), "memory.jsonl");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const transport = new StdioClientTransport({
    command: "node",
    args: [OFFICIAL_MEMORY],
    env: { ...env, MEMORY_FILE_PATH: memoryFile },
    stderr: "ignore",
  });
  const client = new Client({ name: "msm-differential", version: "1.0.0" });
  await client.connect(transport);
  return { client, file: memoryFile, pid: transport.pid!, close: () => client.close().catch(() => {}) };
}

/** A small seeded generator (mulberry32): the same seed gives the same call sequence on every machine. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  /** Up to `max` distinct items (at least `min`). */
  const some = <T>(items: readonly T[], min: number, max: number): T[] => {
    const count = min + int(max - min + 1);
    const out = new Set<T>();
    for (let i = 0; i < count * 3 && out.size < count; i++) out.add(pick(items));
    return [...out];
  };
  return { next, int, pick, some, chance: (p: number) => next() < p };
}
