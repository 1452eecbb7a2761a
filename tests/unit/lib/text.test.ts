// lib/text: the stemmer against Snowball's published examples and, word for word, against PostgreSQL's own Snowball
// English stemmer (`english_stem`) when a throwaway server can run; the tokenizer's folding and splitting; BM25.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BM25, MemoryIndex, fold, idf, maxTermScore, stem, termCounts, termFrequencyWeight, terms, words } from "../../../src/lib/text/index.ts";
import { type TestPostgres, postgresAvailable, usePostgres } from "../../helpers/postgres.ts";

describe("Snowball English (Porter2) stemmer", () => {
  test("the algorithm's own examples and exceptions", () => {
    const pairs: Record<string, string> = {
      caresses: "caress",
      ponies: "poni",
      ties: "tie",
      cries: "cri",
      cats: "cat",
      gaps: "gap",
      gas: "gas",
      kiwis: "kiwi",
      feed: "feed",
      agreed: "agre",
      plastered: "plaster",
      motoring: "motor",
      hopping: "hop",
      hoping: "hope",
      tanned: "tan",
      falling: "fall",
      filing: "file",
      happy: "happi",
      generous: "generous",
      generously: "generous",
      generate: "generat",
      communication: "communic",
      consignment: "consign",
      knackeries: "knackeri",
      dying: "die",
      skies: "sky",
      news: "news",
      innings: "inning",
      running: "run",
      relational: "relat",
      constructor: "constructor",
      hasownproperty: "hasownproperti",
      "caroline's": "carolin",
      "o'brien": "o'brien",
      a: "a",
      by: "by",
    };
    for (const [word, expected] of Object.entries(pairs)) expect({ word, stem: stem(word) }).toEqual({ word, stem: expected });
  });

  let pg: (() => TestPostgres) | undefined;
  if (postgresAvailable()) pg = usePostgres();
  test.skipIf(!postgresAvailable())(
    "word for word what PostgreSQL's english_stem gives, over every word of msm's docs and sources",
    async () => {
      const root = resolve(import.meta.dir, "../../..");
      const files = [
        ...readdirSync(join(root, "docs"))
          .filter((f) => f.endsWith(".md"))
          .map((f) => join(root, "docs", f)),
        join(root, "README.md"),
        ...readdirSync(join(root, "src/memory/mcp")).map((f) => join(root, "src/memory/mcp", f)),
      ];
      const vocabulary = [
        ...new Set(
          files.flatMap(
            (f) =>
              readFileSync(f, "utf8")
                .toLowerCase()
                .match(/[a-z]+/g) ?? [],
          ),
        ),
      ];
      expect(vocabulary.length).toBeGreaterThan(2000);
      const db = new Bun.SQL(pg!().url(), { max: 1 });
      try {
        const rows = (await db`SELECT w, (ts_lexize('english_stem', w))[1] AS s FROM unnest(${vocabulary}::text[]) AS w`) as { w: string; s: string | null }[];
        // english_stem drops PostgreSQL's stopwords (NULL); every other word must match.
        const differ = rows.filter((r) => r.s !== null && r.s !== stem(r.w)).map((r) => `${r.w}: postgres ${r.s}, msm ${stem(r.w)}`);
        expect(differ).toEqual([]);
        expect(rows.filter((r) => r.s !== null).length).toBeGreaterThan(1500);
      } finally {
        await db.close();
      }
    },
    120_000,
  );
});

describe("terms", () => {
  test("folded (case, accents, typographic apostrophes), split into words, stopwords out, stemmed; digits kept", () => {
    expect(fold("Émile’S CAFÉ")).toBe("emile's cafe");
    expect(words("Hey Mel! It's 1:56 pm, day-to-day.")).toEqual(["hey", "mel", "it's", "1", "56", "pm", "day", "to", "day"]);
    expect(terms("What did Caroline's friends research in 2023?")).toEqual(["carolin", "friend", "research", "2023"]);
    expect(terms("the and of it's what's")).toEqual([]);
    expect(terms("İstanbul")).toEqual(terms("istanbul"));
    expect(terms("v2 build42")).toEqual(["v2", "build42"]);
  });

  test("text without spaces between words (Chinese, Japanese) is indexed by character pairs", () => {
    expect(words("日本語を話す")).toEqual(["日本", "本語", "語を", "を話", "話す"]);
    expect(words("東京 tokyo")).toEqual(["東京", "tokyo"]);
    const stored = new Set(terms("日本語を話す"));
    expect(terms("日本語").every((t) => stored.has(t))).toBe(true);
  });

  test("term counts: the frequency of each term and the document length in terms", () => {
    const { counts, length } = termCounts("Coffee, coffee and more COFFEES!");
    expect(counts).toEqual(new Map([["coffe", 3]]));
    expect(length).toBe(3);
  });
});

describe("BM25", () => {
  test("idf never goes negative; the term weight saturates and normalises by length", () => {
    expect(idf(100, 100)).toBeGreaterThan(0);
    expect(idf(100, 1)).toBeGreaterThan(idf(100, 10));
    expect(termFrequencyWeight(0, 10, 10)).toBe(0);
    expect(termFrequencyWeight(1, 10, 10)).toBeCloseTo(1, 10);
    expect(termFrequencyWeight(100, 10, 10)).toBeLessThan(BM25.k1 + 1);
    expect(termFrequencyWeight(1, 5, 10)).toBeGreaterThan(termFrequencyWeight(1, 20, 10));
    expect(maxTermScore(2)).toBe(2 * (BM25.k1 + 1));
  });

  test("MemoryIndex ranks the rare word's document first, ties in insertion order", () => {
    const index = new MemoryIndex<string>(termCounts);
    index.add("a", "the proxy starts the daemon");
    index.add("b", "the daemon writes the memory database");
    index.add("c", "memory of the memory server");
    expect(index.size).toBe(3);
    expect(index.search(terms("which proxy starts daemons?")).map((r) => r.id)).toEqual(["a", "b"]);
    expect(index.search(terms("memory")).map((r) => r.id)).toEqual(["c", "b"]);
    expect(index.search(terms("nothing here"))).toEqual([]);
  });
});
