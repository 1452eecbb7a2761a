import { type FSWatcher, watch } from "node:fs";
import { canonicalJson } from "../lib/canonical-json.ts";
import {
  CACHE_FORMAT,
  type DiscoveryEntry,
  entryFile,
  keyOf,
  LIST_CHANGED,
  LIST_METHODS,
  type ListMethod,
  readEntry,
  targetCacheDir,
  writeEntry,
} from "../lib/discovery-cache.ts";
import { isRequest, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import type { Bridge, BridgeOptions, CloseOptions, Log, RawLine } from "./bridge.ts";

/** What runProxy drives: the bridge itself, or a DiscoverySession in front of one. */
export interface Session {
  send(message: JsonRpcMessage, raw?: string): void;
  close(options: CloseOptions): Promise<void>;
}

export interface DiscoveryOptions {
  target: string;
  /** The target's entry in config.json as written (lib/raw-config.ts). */
  entry: Record<string, unknown>;
  project: string | undefined;
  /** Answer from the cache when it has the answers (`lazy` not false, MSM_DISCOVERY not `live`). */
  answerFromCache: boolean;
  /** The key's HMAC secret (msm's token). */
  secret: () => string;
  /** Opens the bridge to the server; its answers must reach `write` (which this session wraps). */
  openBridge: (write: BridgeOptions["write"], extra: Pick<BridgeOptions, "resume" | "onReplayAnswer">) => Promise<Bridge>;
  write: BridgeOptions["write"];
  log: Log;
}

/**
 * How long after a cached session's bridge opened the server's repeat of its startup notes is not passed on again. A real
 * change in that time is still announced: the lists are compared once the server is up.
 */
const SUPPRESS_MS = 5_000;

/** How long after a burst of answers the entry is written (one write per burst, never per page). */
const WRITE_DELAY_MS = 50;

/**
 * One editor session of a configured target, with the discovery cache (docs/hosted.md "Servers cost nothing until
 * used"). When the cache holds the server's answers to this session's `initialize` (same config, project, protocol
 * version and capabilities), the session is answered from it — initialize, the list requests (every cached page),
 * ping, and what the server says on hearing `initialized` — with no server, host daemon or connection. The first
 * request that needs the server opens the bridge, which replays this initialize to it as a daemon restart would;
 * the cached lists are then asked again, and what changed is written back and announced with `list_changed`.
 * Without a usable entry the session is live from its first message, as before, and its answers fill the cache.
 */
export class DiscoverySession implements Session {
  private bridge: Bridge | undefined;
  private opening: Promise<Bridge | undefined> | undefined;
  private readonly queue: { message: JsonRpcMessage; raw?: string }[] = [];
  /** The entry answering this session while it has no server. */
  private cached: DiscoveryEntry | undefined;
  /** The entry vanished or was replaced by something unreadable: lists go to the server. */
  private stale = false;
  private watcher: FSWatcher | undefined;
  private key: string | undefined;
  private initialize: JsonRpcMessage | undefined;
  private initialized: JsonRpcMessage | undefined;
  /** The entry being filled from the server's answers. */
  private record: DiscoveryEntry | undefined;
  private initializeId: JsonRpcId | undefined;
  private readonly listIds = new Map<JsonRpcId, { method: ListMethod; cursor: string }>();
  /** Notifications after `initialized`, until the server's next answer, are its startup notes. */
  private capturing = false;
  /** Startup notes the cache already gave this session: the same notes from the server now are not repeated (each once). */
  private suppress: string[] = [];
  private writeTimer: Timer | undefined;
  private closed = false;

  private openError: unknown;

  constructor(private readonly options: DiscoveryOptions) {}

  /**
   * Connects now, as a session without the cache always did (while the editor writes its initialize); a server that
   * cannot even be looked for (a broken config entry) is an error here, so the proxy exits saying why.
   */
  async connect(): Promise<void> {
    this.goLive();
    if (!(await this.opening)) throw this.openError;
  }

  send(message: JsonRpcMessage, raw?: string): void {
    const first = message.method === "initialize" && isRequest(message) && !this.initialize;
    if (first) {
      this.initialize = message;
      this.key = this.keyFor(message);
    }
    if (!this.bridge && !this.opening) {
      if (first) {
        const entry = this.options.answerFromCache && this.key ? readEntry(this.options.target, this.key) : undefined;
        if (entry) {
          this.cached = entry;
          this.watch();
          this.options.log.debug(`answered from the discovery cache (written ${new Date(entry.updatedAt).toISOString()})`);
          this.options.write({ jsonrpc: "2.0", id: message.id, result: entry.initializeResult });
          return;
        }
      } else if (this.cached && this.answerFromCache(message)) {
        return;
      }
      this.goLive();
    }
    this.observeEditor(message);
    if (this.bridge) this.bridge.send(message, raw);
    else this.queue.push({ message, raw });
  }

  async close(options: CloseOptions): Promise<void> {
    this.closed = true;
    this.unwatch();
    const bridge = this.bridge ?? (await this.opening);
    await bridge?.close(options);
    this.flush();
  }

  /** Answers a message of a cached session without the server; false when it needs the server. */
  private answerFromCache(message: JsonRpcMessage): boolean {
    const entry = this.cached!;
    if (message.method === "notifications/initialized") {
      this.initialized = message;
      for (const note of entry.startupNotes) this.options.write(note as unknown as JsonRpcMessage);
      return true;
    }
    // Every request the cache answered is answered at once: a cancellation has nothing left to stop.
    if (message.method === "notifications/cancelled") return true;
    if (!isRequest(message)) {
      // Nothing a client says unasked matters to a server that has not started (roots/list_changed: it will ask).
      this.options.log.debug(`${message.method} not passed on: the server has not started`);
      return true;
    }
    if (message.method === "ping") {
      this.options.write({ jsonrpc: "2.0", id: message.id, result: {} });
      return true;
    }
    const list = listRequest(message);
    if (!list || this.stale) return false;
    const result = entry.lists[list.method]?.[list.cursor];
    if (result === undefined) return false;
    this.options.write({ jsonrpc: "2.0", id: message.id, result });
    return true;
  }

  /** Opens the bridge (once); messages wait in order until it exists. A cached session resumes on it. */
  private goLive(): void {
    if (this.opening || this.closed) return;
    const from = this.cached;
    let extra: Pick<BridgeOptions, "resume" | "onReplayAnswer"> = {};
    const resumed = from !== undefined && this.initialize !== undefined;
    let replays = 0;
    const onReplayAnswer = (answer: JsonRpcMessage) => {
      this.compareInitialize(answer);
      // A later replay: the server went away and came back (a crash, `msm restart`, a config edit), maybe with other
      // lists than the ones this session was given: asked again, and a change announced.
      if (replays++ >= (resumed ? 1 : 0) && this.bridge && this.record) void this.verify(structuredClone(this.record), this.bridge);
    };
    extra = { onReplayAnswer };
    if (from && this.initialize) {
      this.cached = undefined;
      this.unwatch();
      // The host replays them to a session joining a running child, or the new child says them again, on the
      // event stream: not ordered against the first call's answer, so they are matched for a while, not until it.
      this.suppress = from.startupNotes.map((note) => canonicalJson(note));
      this.record = structuredClone(from);
      extra = {
        resume: { initialize: this.initialize, initialized: this.initialized },
        onReplayAnswer,
      };
    }
    this.opening = this.options.openBridge(this.toEditor, extra).then(
      (bridge) => {
        this.bridge = bridge;
        for (const { message, raw } of this.queue.splice(0)) bridge.send(message, raw);
        if (from) {
          setTimeout(() => (this.suppress = []), SUPPRESS_MS).unref?.();
          void this.verify(from, bridge);
        }
        return bridge;
      },
      (error: unknown) => {
        this.openError = error;
        // The server cannot even be looked for (config unreadable, say): every waiting request is told why.
        const text = error instanceof Error ? error.message : String(error);
        this.options.log.warn(text);
        for (const { message } of this.queue.splice(0)) {
          if (isRequest(message)) this.options.write({ jsonrpc: "2.0", id: message.id, error: { code: -32603, message: `msm: ${text}` } });
        }
        this.opening = undefined;
        // Still answerable from the cache; the next request that needs the server tries again.
        if (from) {
          this.cached = from;
          this.record = undefined;
          this.suppress = [];
        }
        return undefined;
      },
    );
  }

  /** Server → editor: recorded into the entry where it is a discovery answer, then written. */
  private readonly toEditor = (message: JsonRpcMessage, raw?: RawLine): void => {
    if (this.observeServer(message)) this.options.write(message, raw);
  };

  private observeEditor(message: JsonRpcMessage): void {
    if (!this.key) return;
    if (message.method === "initialize" && isRequest(message)) this.initializeId = message.id;
    else if (message.method === "notifications/initialized") this.capturing = this.record !== undefined && this.suppress.length === 0;
    else {
      const list = listRequest(message);
      if (list && isRequest(message)) this.listIds.set(message.id, list);
    }
  }

  /** Records what belongs in the cache; false for a repeat of a startup note the cache already gave. */
  private observeServer(message: JsonRpcMessage): boolean {
    const isAnswer = message.method === undefined && message.id !== undefined && message.id !== null;
    if (!isAnswer && message.method !== undefined && message.id === undefined && this.suppress.length) {
      const index = this.suppress.indexOf(canonicalJson(message));
      if (index >= 0) {
        this.suppress.splice(index, 1);
        return false;
      }
    }
    if (!isAnswer) {
      if (this.capturing && message.id === undefined && this.record) this.record.startupNotes.push(message as unknown as Record<string, unknown>);
      return true;
    }
    this.capturing = false;
    const id = message.id as JsonRpcId;
    const result = (message as { result?: unknown }).result;
    if (id === this.initializeId) {
      this.initializeId = undefined;
      if (result && typeof result === "object" && this.key) this.startRecord(result as Record<string, unknown>);
      return true;
    }
    const list = this.listIds.get(id);
    if (list) {
      this.listIds.delete(id);
      if (result && typeof result === "object" && this.record) {
        this.setPage(this.record, list.method, list.cursor, result as Record<string, unknown>);
        this.scheduleWrite();
      }
    }
    return true;
  }

  private startRecord(initializeResult: Record<string, unknown>): void {
    const now = Date.now();
    const old = readEntry(this.options.target, this.key!);
    // The same server answering the same way: pages this session does not ask again stay.
    const same = old && canonicalJson(old.initializeResult) === canonicalJson(initializeResult);
    this.record = {
      format: CACHE_FORMAT,
      target: this.options.target,
      key: this.key!,
      ...(this.keyProject() !== undefined ? { project: this.keyProject() } : {}),
      initializeParams: withoutMeta(this.initialize?.params),
      initializeResult,
      startupNotes: [],
      lists: same ? old.lists : {},
      createdAt: same ? old.createdAt : now,
      updatedAt: now,
    };
    this.scheduleWrite();
  }

  /** A first page replaces what was known of that list; later pages add to it. */
  private setPage(entry: DiscoveryEntry, method: ListMethod, cursor: string, result: Record<string, unknown>): void {
    if (cursor === "" || !entry.lists[method]) entry.lists[method] = {};
    entry.lists[method]![cursor] = result;
  }

  /** The server's answer to the replayed initialize: a server that now answers differently is the new truth. */
  private compareInitialize(answer: JsonRpcMessage): void {
    const result = (answer as { result?: unknown }).result;
    if (!this.record || !result || typeof result !== "object") return;
    if (canonicalJson(result) === canonicalJson(this.record.initializeResult)) return;
    const was = (this.record.initializeResult as { serverInfo?: { version?: unknown } }).serverInfo?.version;
    const now = (result as { serverInfo?: { version?: unknown } }).serverInfo?.version;
    this.options.log.info(
      `the server answers initialize differently from the cache (version ${String(was)} → ${String(now)}); later sessions get the new answer`,
    );
    this.record.initializeResult = result as Record<string, unknown>;
    this.record.startupNotes = [];
    this.scheduleWrite();
  }

  /**
   * After a cached session went live: every list the cache answered is asked of the server (following its pages);
   * a list that changed is written back and announced to the editor with its `list_changed`.
   */
  private async verify(from: DiscoveryEntry, bridge: Bridge): Promise<void> {
    const announce = new Set<string>();
    for (const method of LIST_METHODS) {
      const before = from.lists[method];
      if (!before) continue;
      const pages: Record<string, unknown> = {};
      let cursor = "";
      for (let page = 0; page < 100; page++) {
        const answer = await bridge.request(method, cursor ? { cursor } : undefined);
        const result = (answer as { result?: Record<string, unknown> }).result;
        if (!result) return; // an error (or the session ended): nothing certain to compare
        pages[cursor] = result;
        const next = result.nextCursor;
        if (typeof next !== "string" || next === "" || next in pages) break;
        cursor = next;
      }
      if (canonicalJson(pages) === canonicalJson(before)) continue;
      if (this.record) this.record.lists[method] = pages;
      announce.add(LIST_CHANGED[method]);
    }
    if (!announce.size) return;
    this.options.log.info(`the server's lists differ from the cache (${[...announce].join(", ")}): cache replaced, the editor told`);
    this.scheduleWrite();
    for (const method of announce) this.options.write({ jsonrpc: "2.0", method });
  }

  /** While cached: another session that went live may rewrite the entry; its changed lists are announced here. */
  private watch(): void {
    let timer: Timer | undefined;
    try {
      this.watcher = watch(targetCacheDir(this.options.target), { persistent: false }, (_event, name) => {
        if (name !== `${this.key}.json`) return;
        clearTimeout(timer);
        timer = setTimeout(() => this.reload(), 20);
        timer.unref?.();
      });
      this.watcher.on("error", () => {
        this.stale = true;
        this.unwatch();
      });
    } catch {
      this.stale = true;
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private reload(): void {
    const current = this.cached;
    if (!current || !this.key) return;
    const entry = readEntry(this.options.target, this.key);
    if (!entry) {
      // Dropped (config changed, `msm refresh`): what this session knows may be wrong, so the server is asked.
      this.stale = true;
      return;
    }
    const announce = new Set<string>();
    for (const method of LIST_METHODS) {
      if (canonicalJson(entry.lists[method] ?? null) !== canonicalJson(current.lists[method] ?? null)) announce.add(LIST_CHANGED[method]);
    }
    this.cached = { ...entry, startupNotes: current.startupNotes, initializeResult: current.initializeResult };
    this.stale = false;
    for (const method of announce) this.options.write({ jsonrpc: "2.0", method });
  }

  private keyFor(message: JsonRpcMessage): string | undefined {
    try {
      return keyOf(
        { target: this.options.target, entry: this.options.entry, project: this.keyProject(), initializeParams: withoutMeta(message.params) },
        this.options.secret(),
      );
    } catch (error) {
      this.options.log.debug(`no discovery cache for this session: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /** The project matters unless one server serves every project and nothing in its entry names the project. */
  private keyProject(): string | undefined {
    const entry = this.options.entry;
    if (typeof entry.url === "string") return undefined;
    if (entry.share === "global" && !JSON.stringify(entry).includes("{project")) return undefined;
    return this.options.project;
  }

  private scheduleWrite(): void {
    if (this.writeTimer || !this.record) return;
    this.writeTimer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
    this.writeTimer.unref?.();
  }

  private flush(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    if (!this.record) return;
    this.record.updatedAt = Date.now();
    if (!writeEntry(this.record)) this.options.log.debug(`discovery cache entry not kept (${entryFile(this.options.target, this.record.key)})`);
  }
}

function listRequest(message: JsonRpcMessage): { method: ListMethod; cursor: string } | undefined {
  if (!LIST_METHODS.includes(message.method as ListMethod)) return undefined;
  const cursor = (message.params as { cursor?: unknown } | undefined)?.cursor;
  return { method: message.method as ListMethod, cursor: typeof cursor === "string" ? cursor : "" };
}

function withoutMeta(params: unknown): Record<string, unknown> {
  if (!params || typeof params !== "object") return {};
  const { _meta, ...rest } = params as Record<string, unknown>;
  return rest;
}
