import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { embeddedRoot, WORKER_ENTRYPOINTS, workerUrl, WORKERS } from "../../../../src/lib/contracts/worker-url.ts";

// Module URLs as each platform's compiled binary reports them (Linux and macOS alike; Windows percent-encodes `~`).
const LINUX = "file:///$bunfs/root/chunk-ab12cd34.js";
const WINDOWS = "file:///B:/%7EBUN/root/chunk-ab12cd34.js";

describe("worker URLs (one rule for every platform's compiled layout)", () => {
  test("a compiled binary's embedded root is found on Linux/macOS and in Windows' percent-encoded form", () => {
    expect(embeddedRoot(LINUX)).toBe("/$bunfs/root/");
    expect(embeddedRoot(WINDOWS)).toBe("/B:/~BUN/root/");
    expect(embeddedRoot("file:///B:/~BUN/root/msm")).toBe("/B:/~BUN/root/");
    expect(embeddedRoot(import.meta.url)).toBeUndefined();
    expect(embeddedRoot("file:///home/u/%24bunfs/root/x.js")).toBeUndefined();
    expect(embeddedRoot("not a url")).toBeUndefined();
  });

  test("compiled: the worker's entrypoint under the root, as build.ts lays it out (src/ path, .js)", () => {
    expect(workerUrl("store", LINUX)).toBe("file:///$bunfs/root/memory/store-worker.js");
    expect(workerUrl("explorer", LINUX)).toBe("file:///$bunfs/root/memory/explorer-worker.js");
    // The URL that failed every Windows memory call was file:///B:/%7EBUN/root/store-worker.ts.
    expect(workerUrl("store", WINDOWS)).toBe("file:///B:/~BUN/root/memory/store-worker.js");
    expect(workerUrl("explorer", WINDOWS)).toBe("file:///B:/~BUN/root/memory/explorer-worker.js");
  });

  test("from source: each worker's .ts file, which exists, and build.ts builds every one", () => {
    for (const name of Object.keys(WORKERS) as (keyof typeof WORKERS)[]) expect(existsSync(fileURLToPath(workerUrl(name)))).toBe(true);
    expect(WORKER_ENTRYPOINTS).toEqual(["./src/memory/store-worker.ts", "./src/memory/explorer-worker.ts"]);
  });
});
