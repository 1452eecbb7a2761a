import { workerUrl } from "../../lib/contracts/worker-url.ts";
// Types only: the explorer's code (memory's stores) runs in the worker, never on the supervisor's thread.
import type { Explorer } from "../../memory/explorer.ts";
import type { ExplorerMethod, ExplorerReply } from "../../memory/explorer-worker.ts";

type Async<T> = { [K in ExplorerMethod]: T[K & keyof T] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };

/**
 * The explorer as the dashboard calls it: every query runs in a worker thread (explorer-worker.ts), started on
 * first use. A worker that dies fails the queries it held and is started again by the next one.
 */
export class ExplorerClient implements Async<Explorer> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();

  private call<T>(method: ExplorerMethod, args: unknown[]): Promise<T> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerUrl("explorer"));
    worker.onmessage = (event: MessageEvent<ExplorerReply>) => {
      const reply = event.data;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ("error" in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.result);
    };
    const fail = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the memory explorer stopped: ${why}`));
      this.pending.clear();
    };
    worker.onerror = (event) => fail((event as ErrorEvent).message ?? "error");
    worker.addEventListener("close", () => fail("exited"));
    // The supervisor's lifetime is its server's, never a helper thread's.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  databases: Async<Explorer>["databases"] = (...args) => this.call("databases", args);
  search: Async<Explorer>["search"] = (...args) => this.call("search", args);
  entity: Async<Explorer>["entity"] = (...args) => this.call("entity", args);
  graph: Async<Explorer>["graph"] = (...args) => this.call("graph", args);

  dispose(): void {
    this.worker?.terminate();
    this.worker = undefined;
  }
}

