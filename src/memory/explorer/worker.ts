// The memory explorer's SQLite and PostgreSQL work, on its own thread: a search that ranks tens of thousands of matches takes a
// quarter of a second on 100,000 entities (seconds on a million), and the supervisor's event loop — which answers
// proxies and restarts daemons — must not wait for it. Loaded with `new Worker(...)`; built as its own entrypoint.
import type { ExplorerReply, ExplorerRequest } from "../../lib/contracts/explorer.ts";
import { Explorer } from "./explorer.ts";

declare const self: Worker;

const explorer = new Explorer();

self.onmessage = async (event: MessageEvent<ExplorerRequest>) => {
  const { id, method, args } = event.data;
  try {
    const result = await (explorer[method] as (...a: unknown[]) => unknown)(...args);
    self.postMessage({ id, result } satisfies ExplorerReply);
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message } satisfies ExplorerReply);
  }
};
