/**
 * Where a worker thread's code is — the agreement between build.ts (which makes each worker an entrypoint of the
 * compiled binary) and the code that starts it (`new Worker(workerUrl(...))`). No imports: lib/ only.
 *
 * From source a worker is its .ts file under src/. In a compiled binary (Bun 1.4) every chunk sits at the root of
 * the embedded file tree while an extra entrypoint keeps its path under src/, ending in .js. That root is
 * `/$bunfs/root/` on Linux and macOS and `B:/~BUN/root/` on Windows, where module URLs are percent-encoded
 * (`file:///B:/%7EBUN/root/chunk-….js`): a test for "$bunfs" alone, or for "~BUN" in the raw URL, misses Windows,
 * and a URL relative to the calling chunk misses the worker's folder (both shipped: every Windows memory call
 * failed with `ModuleNotFound resolving "B:\~BUN\root\store-worker.ts"`). Verified under Wine and on Linux: Bun's
 * Worker accepts `file:///B:/~BUN/root/…` and `file:///$bunfs/root/…`.
 */

/** Each worker's entrypoint, as a path under src/ without its extension. */
export const WORKERS = {
  /** One per open SQLite database of the memory daemon (memory/store-client.ts). */
  store: "memory/store-worker",
  /** The dashboard's read-only memory explorer (supervisor/web/explorer-client.ts). */
  explorer: "memory/explorer-worker",
} as const;

export type WorkerName = keyof typeof WORKERS;

/** build.ts's extra entrypoints: a compiled binary contains only the workers listed here. */
export const WORKER_ENTRYPOINTS: string[] = Object.values(WORKERS).map((path) => `./src/${path}.ts`);

/** `/$bunfs/root/` or `/B:/~BUN/root/` (decoded), when `moduleUrl` is a module inside a compiled binary. */
export function embeddedRoot(moduleUrl: string): string | undefined {
  let path: string;
  try {
    const url = new URL(moduleUrl);
    if (url.protocol !== "file:") return undefined;
    path = decodeURIComponent(url.pathname);
  } catch {
    return undefined;
  }
  return /^\/(?:\$bunfs|[A-Za-z]:\/~BUN)\/root\//.exec(path)?.[0];
}

/**
 * The URL to start worker `name` with. `moduleUrl` is any module URL of the running program (default: this
 * file's, which is all it needs: only the embedded root is taken from it); tests pass other platforms' forms.
 */
export function workerUrl(name: WorkerName, moduleUrl: string = import.meta.url): string {
  const root = embeddedRoot(moduleUrl);
  if (root) return `file://${root}${WORKERS[name]}.js`;
  // From source: this file is src/lib/contracts/worker-url.ts.
  return new URL(`../../${WORKERS[name]}.ts`, import.meta.url).href;
}
