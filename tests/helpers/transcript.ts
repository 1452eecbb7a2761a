/**
 * Transcripts for the differential transparency suite (tests/e2e/transparency/): one scripted MCP session, run by a
 * real SDK client against a server directly and through `dist/msm proxy`, records every JSON-RPC message the client
 * sends and receives, in order; the two transcripts must be the same message by message.
 *
 * WHAT MAY DIFFER (the whole normalisation list; everything else is compared exactly). Each entry is either something
 * msm owns or something that also differs between two direct runs of the same script — the matrix runs the direct
 * side twice (for each server, capability set and client SDK) and asserts the two are equal under this list, so the
 * list is proven sufficient; each entry is there because a direct run needed it, or because msm must own it:
 *  1. The ids of server→client requests (sampling, elicitation, roots, ping). The client only echoes them; a host
 *     that multiplexes sessions on one child must choose its own. Renamed `s1`, `s2`, … in order of first
 *     appearance (the unordered ones of item 3 `r1`, `r2`, … apart), in the request and in the client's answer, so
 *     which answer belongs to which request still counts.
 *  2. Times of day and ISO timestamps inside strings (server-everything's dynamic resources say when they were
 *     made): replaced by `<time>`.
 *  3. The position of unsolicited notifications — log messages, `list_changed`, `resources/updated` — and of the
 *     roots/list requests a server makes on its own: they come from timers and background work (server-everything
 *     asks for roots 350 ms after initialized), nothing orders them against the session's requests, and through
 *     msm they travel on the session's own event stream, not on the answer's. Compared as a multiset, not by
 *     position: their number and content still count.
 *  4. Only through a profile of one target (`msm proxy --profile`, docs/profiles.md), what a profile documents it
 *     changes: the names of tools and prompts carry the target's name and the separator (`everything__echo`), the
 *     `serverInfo` of `initialize` (and of `server/discover`'s `_meta`) names the profile, and the target's
 *     `instructions` start with `TARGET: `. The script calls the plain names; `Launch.profile` makes the client put
 *     the prefix on the wire (tools/call, prompts/get, a completion's prompt ref) as a model reading the profile's
 *     list would, and `asDirect()` undoes all of it in the recorded transcript — after checking that `serverInfo`
 *     is the profile's own, it puts the direct run's in its place — before the comparison.
 * JSON object member order is not a normalisation: JSON objects are unordered (RFC 8259), and messages are compared
 * as parsed values.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Client as ModernClient } from "@modelcontextprotocol/client";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";

export const VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"] as const;
export type Version = (typeof VERSIONS)[number];

export interface Message {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface Entry {
  /** "sent": client → server; "received": server → client. */
  dir: "sent" | "received";
  message: Message;
}

/** What a session's client declares; `roots` are the folders it answers roots/list with. */
export interface Capabilities {
  roots?: string[];
  sampling?: boolean;
  elicitation?: boolean;
}

/** How to start the thing the client talks to over stdio: the server itself, or `msm proxy`. */
export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Lines the server logs (its stderr directly, its lines in msm's target log when hosted), for `serverSaid`. */
  serverLog: () => string;
  /** Through a profile of one target (normalisation item 4): the names the script uses get this prefix on the wire. */
  profile?: ProfileNames;
}

/** A one-target profile's naming: `target` + `separator` before every tool and prompt name; `name` is the profile's. */
export interface ProfileNames {
  name: string;
  target: string;
  separator: string;
}

/** The surface a script drives; every method records and none throws (an error answer is part of the transcript). */
export interface Scripted {
  readonly name: string;
  readonly version: Version;
  readonly capabilities: Capabilities;
  readonly entries: Entry[];
  /** Sends a request and waits for its answer (or the timeout); returns the result, undefined on an error. */
  request(method: string, params?: Record<string, unknown>, options?: { progress?: boolean; signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
  /** Waits until a received message matches (true) or the time is up (false); the wait is not recorded. */
  received(match: (message: Message) => boolean, timeoutMs?: number): Promise<boolean>;
  /** Waits until the server's own log has a line matching (true) or the time is up (false). */
  serverSaid(pattern: RegExp, timeoutMs?: number): Promise<boolean>;
}

export interface Transcript {
  name: string;
  entries: Entry[];
  /** The protocol version the client ended up with (undefined: it never connected). */
  negotiated: string | undefined;
  /** Why connect failed, if it did. */
  connectError?: string;
}

/** Requests that wait longer than this are given up (the SDK then sends notifications/cancelled, recorded too). */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A transport that records every message in both directions, on the wire as sent. `version` replaces the protocol
 * version the client asks for in its `initialize` (SDK 1.32 always asks for its latest; an older editor asks for
 * its own), before it is recorded.
 */
export class RecordingTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];

  constructor(
    private readonly inner: Transport,
    readonly entries: Entry[],
    private readonly version?: string,
    private readonly profile?: ProfileNames,
  ) {}

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  async start(): Promise<void> {
    this.inner.onmessage = (message, extra) => {
      this.entries.push({ dir: "received", message: structuredClone(message) as Message });
      this.onmessage?.(message, extra);
    };
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (error) => this.onerror?.(error);
    await this.inner.start();
  }

  async send(message: Parameters<Transport["send"]>[0], options?: Parameters<Transport["send"]>[1]): Promise<void> {
    const m = message as Message;
    if (this.version && m.method === "initialize" && m.params) m.params = { ...m.params, protocolVersion: this.version };
    if (this.profile) renameNames(m, (name) => `${this.profile!.target}${this.profile!.separator}${name}`);
    this.entries.push({ dir: "sent", message: structuredClone(m) });
    await this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A value for each field of an elicitation schema, naming the session in every string (so a misroute shows). */
export function elicitedContent(schema: unknown, name: string): Record<string, unknown> {
  const properties = ((schema as { properties?: Record<string, Record<string, unknown>> })?.properties ?? {}) as Record<string, Record<string, unknown>>;
  const content: Record<string, unknown> = {};
  const first = (p: Record<string, unknown>): unknown => {
    if (Array.isArray(p.enum)) return p.enum[0];
    const options = (p.oneOf ?? p.anyOf) as { const?: unknown }[] | undefined;
    if (Array.isArray(options)) return options[0]?.const;
    return undefined;
  };
  for (const [key, p] of Object.entries(properties)) {
    const choice = first(p);
    if (p.type === "array") {
      const item = first((p.items ?? {}) as Record<string, unknown>);
      content[key] = item === undefined ? [] : [item];
    } else if (choice !== undefined) content[key] = choice;
    else if (p.type === "boolean") content[key] = true;
    else if (p.type === "integer" || p.type === "number") content[key] = 1;
    else if (p.format === "email") content[key] = `${name.toLowerCase().replace(/[^a-z0-9]/g, "")}@example.com`;
    else if (p.format === "uri") content[key] = `https://example.com/${encodeURIComponent(name)}`;
    else if (p.format === "date") content[key] = "2000-01-01";
    else if (p.format === "date-time") content[key] = "2000-01-01T00:00:00Z";
    else content[key] = `${key} of ${name}`;
  }
  return content;
}

/** The client's answers to server→client requests: each names the session, so one reaching another session shows. */
export const answers = {
  sampling: (name: string) => ({ model: `model-of-${name}`, role: "assistant" as const, content: { type: "text" as const, text: `sampled by ${name}` } }),
  elicitation: (name: string, requestedSchema: unknown) => ({
    action: "accept" as const,
    content: elicitedContent(requestedSchema, name) as Record<string, string | number | boolean | string[]>,
  }),
  roots: (folders: string[]) => ({ roots: folders.map((folder) => ({ uri: pathToFileURL(folder).href, name: folder.split("/").pop() || folder })) }),
};

const AnyResult = z.object({}).passthrough();

interface Driven {
  connect(transport: Transport): Promise<void>;
  request(method: string, params: Record<string, unknown> | undefined, options: Record<string, unknown>): Promise<unknown>;
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
  negotiated(): string | undefined;
  close(): Promise<void>;
}

/** SDK 1.32 (2024-11-05 … 2025-11-25) or the TypeScript SDK v2 (2026-07-28, probing with server/discover). */
function makeClient(name: string, version: Version, capabilities: Capabilities): Driven {
  const declared: Record<string, object> = {};
  if (capabilities.roots) declared.roots = { listChanged: true };
  if (capabilities.sampling) declared.sampling = {};
  if (capabilities.elicitation) declared.elicitation = {};
  const info = { name, version: "1.0.0" };
  if (version === "2026-07-28") {
    const client = new ModernClient(info, { capabilities: declared, versionNegotiation: { mode: "auto" } });
    if (capabilities.sampling) client.setRequestHandler("sampling/createMessage", async () => answers.sampling(name));
    if (capabilities.elicitation)
      client.setRequestHandler("elicitation/create", async (request) =>
        answers.elicitation(name, (request.params as { requestedSchema?: unknown }).requestedSchema),
      );
    if (capabilities.roots) client.setRequestHandler("roots/list", async () => answers.roots(capabilities.roots!));
    return {
      connect: (transport) => client.connect(transport as never),
      request: (method, params, options) => client.request({ method, params } as never, AnyResult as never, options as never),
      notify: (method, params) => client.notification({ method, params } as never),
      negotiated: () => client.getNegotiatedProtocolVersion(),
      close: () => client.close(),
    };
  }
  const client = new Client(info, { capabilities: declared });
  if (capabilities.sampling) client.setRequestHandler(CreateMessageRequestSchema, async () => answers.sampling(name));
  if (capabilities.elicitation)
    client.setRequestHandler(ElicitRequestSchema, async (request) =>
      answers.elicitation(name, (request.params as { requestedSchema?: unknown }).requestedSchema),
    );
  if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, async () => answers.roots(capabilities.roots!));
  return {
    connect: (transport) => client.connect(transport),
    request: (method, params, options) => client.request({ method, params } as never, AnyResult, options),
    notify: (method, params) => client.notification({ method, params } as never),
    // SDK 1.32 keeps the negotiated version to itself: the initialize answer in the transcript says it.
    negotiated: () => undefined,
    close: () => client.close(),
  };
}

function negotiatedFrom(list: Entry[]): string | undefined {
  const answer = list.find((e) => e.dir === "received" && (e.message.result as { protocolVersion?: string } | undefined)?.protocolVersion);
  return (answer?.message.result as { protocolVersion?: string } | undefined)?.protocolVersion;
}

/**
 * Runs one scripted session: starts `launch` over stdio, connects the client asking for `version` with
 * `capabilities`, runs the script, closes. Returns everything that crossed the wire.
 */
export async function runSession(
  name: string,
  version: Version,
  capabilities: Capabilities,
  launch: Launch,
  script: (s: Scripted) => Promise<void>,
  hooks: { connected?: (pid: number | null) => void } = {},
): Promise<Transcript> {
  const recorded: Entry[] = [];
  const stdio = new StdioClientTransport({ command: launch.command, args: launch.args, env: launch.env, cwd: launch.cwd, stderr: "pipe" });
  let stderr = "";
  stdio.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
  const transport = new RecordingTransport(stdio, recorded, version === "2026-07-28" ? undefined : version, launch.profile);
  const client = makeClient(name, version, capabilities);
  const transcript: Transcript = { name, entries: recorded, negotiated: undefined };
  try {
    await client.connect(transport);
  } catch (error) {
    transcript.connectError = (error as Error).message;
    await client.close().catch(() => {});
    await stdio.close().catch(() => {});
    return transcript;
  }
  hooks.connected?.(stdio.pid);
  transcript.negotiated = client.negotiated() ?? negotiatedFrom(recorded);
  const scripted: Scripted = {
    name,
    version,
    capabilities,
    entries: recorded,
    async request(method, params, options = {}) {
      const { progress, signal, timeoutMs } = options;
      try {
        return await client.request(method, params, { timeout: timeoutMs ?? REQUEST_TIMEOUT_MS, signal, ...(progress ? { onprogress: () => {} } : {}) });
      } catch {
        return undefined;
      }
    },
    async notify(method, params) {
      await client.notify(method, params).catch(() => {});
    },
    async received(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (recorded.some((e) => e.dir === "received" && match(e.message))) return true;
        await Bun.sleep(10);
      }
      return false;
    },
    async serverSaid(pattern, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (pattern.test(launch.serverLog() + stderr)) return true;
        await Bun.sleep(20);
      }
      return false;
    },
  };
  try {
    await script(scripted);
  } finally {
    await client.close().catch(() => {});
    await stdio.close().catch(() => {});
  }
  return transcript;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation and comparison

/** Rewrites (in place) the tool or prompt name a client message names: tools/call, prompts/get, a prompt ref. */
function renameNames(m: Message, rename: (name: string) => string): void {
  const params = m.params;
  if (!params) return;
  if ((m.method === "tools/call" || m.method === "prompts/get") && typeof params.name === "string") m.params = { ...params, name: rename(params.name) };
  const ref = params.ref as { type?: string; name?: unknown } | undefined;
  if (m.method === "completion/complete" && ref?.type === "ref/prompt" && typeof ref.name === "string")
    m.params = { ...params, ref: { ...ref, name: rename(ref.name) } };
}

const SERVER_INFO_META = "io.modelcontextprotocol/serverInfo";

/**
 * Normalisation item 4: a one-target profile's transcript as the target would have given it directly — names without
 * the prefix (in what the client sent and in the lists it got), `instructions` without `TARGET: `, and the profile's
 * own `serverInfo` (checked) replaced by `direct`'s. A name without the prefix, or a serverInfo that is not the
 * profile's, is left as it is, so the comparison shows it.
 */
export function asDirect(profiled: Transcript, profile: ProfileNames, direct: Transcript): Transcript {
  const prefix = `${profile.target}${profile.separator}`;
  const strip = (name: string) => (name.startsWith(prefix) ? name.slice(prefix.length) : name);
  const directInfo = (key: "serverInfo" | "meta") => {
    for (const { dir, message } of direct.entries) {
      const result = message.result as Record<string, unknown> | undefined;
      if (dir !== "received" || !result) continue;
      if (key === "serverInfo" && result.serverInfo) return result.serverInfo;
      if (key === "meta" && result.supportedVersions) return (result._meta as Record<string, unknown> | undefined)?.[SERVER_INFO_META];
    }
    return undefined;
  };
  const isProfileInfo = (info: unknown) => (info as { name?: unknown } | undefined)?.name === profile.name;
  const entries = profiled.entries.map(({ dir, message }): Entry => {
    const m = structuredClone(message);
    if (dir === "sent") {
      renameNames(m, strip);
      return { dir, message: m };
    }
    const result = m.result as Record<string, unknown> | undefined;
    if (!result || typeof result !== "object") return { dir, message: m };
    for (const field of ["tools", "prompts"]) {
      const list = result[field];
      if (Array.isArray(list))
        result[field] = list.map((entry: Record<string, unknown>) => (typeof entry?.name === "string" ? { ...entry, name: strip(entry.name) } : entry));
    }
    const opening = result.protocolVersion !== undefined || result.supportedVersions !== undefined;
    if (opening && typeof result.instructions === "string" && result.instructions.startsWith(`${profile.target}: `))
      result.instructions = result.instructions.slice(profile.target.length + 2);
    if (result.protocolVersion !== undefined && isProfileInfo(result.serverInfo)) result.serverInfo = directInfo("serverInfo");
    const meta = result._meta as Record<string, unknown> | undefined;
    if (result.supportedVersions !== undefined && meta && isProfileInfo(meta[SERVER_INFO_META])) meta[SERVER_INFO_META] = directInfo("meta");
    return { dir, message: m };
  });
  return { ...profiled, entries };
}

/** Received notifications and server requests that nothing orders against the session's own requests (item 3). */
const FLOATING = /^notifications\/(message|(tools|prompts|resources)\/list_changed|resources\/updated)$|^roots\/list$/;

const TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\b|\b\d{1,2}:\d{2}:\d{2}(\s?[AP]M)?\b/g;

/** Stable text of a JSON value: keys sorted, times replaced (item 2). */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "string") return v.replace(TIME, "<time>");
    if (v && typeof v === "object" && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return v;
  });
}

export interface Canonical {
  /** Ordered messages, one line each: "> …" sent, "< …" received. */
  sequence: string[];
  /** Floating messages (item 3), sorted. */
  floating: string[];
}

/** A transcript with the normalisation list applied. */
export function canonical(entries: Entry[]): Canonical {
  // Server requests in order, and the floating ones (item 3) counted apart, so one more or less of those does not
  // shift the names of the others.
  const serverIds = new Map<string, string>();
  let ordered = 0;
  let unordered = 0;
  const rename = (id: unknown, floats = false) => {
    const key = JSON.stringify(id);
    if (!serverIds.has(key)) serverIds.set(key, floats ? `r${++unordered}` : `s${++ordered}`);
    return serverIds.get(key)!;
  };
  const floatingIds = new Set<string>();
  const sequence: string[] = [];
  const floating: string[] = [];
  for (const { dir, message } of entries) {
    let m: Message = message;
    let floats = false;
    if (dir === "received" && m.method !== undefined && m.id !== undefined) {
      // A server→client request (item 1).
      floats = FLOATING.test(m.method!);
      m = { ...m, id: rename(m.id, floats) };
      if (floats) floatingIds.add(m.id as string);
    } else if (dir === "sent" && m.method === undefined && m.id !== undefined) {
      // The client's answer to one.
      m = { ...m, id: rename(m.id) };
      floats = floatingIds.has(m.id as string);
    } else if (dir === "received" && m.method !== undefined && FLOATING.test(m.method)) {
      floats = true;
    }
    const line = `${dir === "sent" ? ">" : "<"} ${stable(m)}`;
    (floats ? floating : sequence).push(line);
  }
  floating.sort();
  return { sequence, floating };
}

/** The differences between two transcripts under the normalisation list, as readable lines ([] = equal). */
export function differences(expected: Transcript, actual: Transcript, limit = 6): string[] {
  const out: string[] = [];
  if (expected.connectError !== actual.connectError) out.push(`connect: ${expected.connectError ?? "ok"} ≠ ${actual.connectError ?? "ok"}`);
  const a = canonical(expected.entries);
  const b = canonical(actual.entries);
  const length = Math.max(a.sequence.length, b.sequence.length);
  for (let i = 0; i < length && out.length < limit; i++) {
    if (a.sequence[i] === b.sequence[i]) continue;
    out.push(`#${i} direct: ${clip(a.sequence[i])}\n     msm:    ${clip(b.sequence[i])}`);
    // The first difference usually shifts everything after it: report it and the counts.
    if (a.sequence.length !== b.sequence.length) out.push(`(${a.sequence.length} ordered messages directly, ${b.sequence.length} through msm)`);
    break;
  }
  const missing = minus(a.floating, b.floating);
  const extra = minus(b.floating, a.floating);
  for (const line of missing.slice(0, limit)) out.push(`unsolicited, only directly: ${clip(line)}`);
  for (const line of extra.slice(0, limit)) out.push(`unsolicited, only through msm: ${clip(line)}`);
  return out;
}

function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((line) => {
    const i = left.indexOf(line);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

function clip(line: string | undefined, max = 400): string {
  if (line === undefined) return "(nothing)";
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Writes normalised transcripts as `DIR/<label>.<side>.txt`, one message a line (MSM_TRANSPARENCY_DUMP). */
export function dump(dir: string, label: string, sides: Record<string, Transcript>): void {
  mkdirSync(dir, { recursive: true });
  const base = label.replace(/[^A-Za-z0-9.+-]+/g, "_");
  for (const [side, transcript] of Object.entries(sides)) {
    const { sequence, floating } = canonical(transcript.entries);
    const head = transcript.connectError ? [`connect failed: ${transcript.connectError}`] : [];
    writeFileSync(join(dir, `${base}.${side}.txt`), [...head, ...sequence, "--- unsolicited ---", ...floating, ""].join("\n"));
  }
}

/** Runs `jobs` with at most `limit` at once, results in order. */
export async function pool<T>(limit: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/**
 * A client that writes raw lines to a stdio server and reads its raw output lines — for messages no SDK client
 * would send (a request nested 50,000 deep) and answers no SDK client could parse. `answer(id)` waits for a line
 * that is the response to request `id` (matched on the text, so a line too deep or not UTF-8 still counts).
 */
export class RawStdio {
  private readonly child: ReturnType<typeof Bun.spawn>;
  private buffered = "";
  readonly lines: string[] = [];

  constructor(launch: Launch) {
    const child = Bun.spawn([launch.command, ...launch.args], { cwd: launch.cwd, env: launch.env, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    this.child = child;
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
        this.buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = this.buffered.indexOf("\n")) >= 0) {
          this.lines.push(this.buffered.slice(0, newline));
          this.buffered = this.buffered.slice(newline + 1);
        }
      }
    })();
  }

  get pid(): number {
    return this.child.pid;
  }

  send(line: string): void {
    const stdin = this.child.stdin as import("bun").FileSink;
    stdin.write(`${line}\n`);
    stdin.flush();
  }

  /** initialize + notifications/initialized, as a client of `version` with `capabilities`. */
  async initialize(version = "2025-11-25", capabilities: object = {}): Promise<string | undefined> {
    this.send(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: version, capabilities, clientInfo: { name: "raw", version: "1" } },
      }),
    );
    const line = await this.answer(0, 30_000);
    this.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
    return line;
  }

  /** The first line answering request `id` (a result or an error), or undefined after `timeoutMs`. */
  async answer(id: number, timeoutMs = 15_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    const tag = new RegExp(`"id"\\s*:\\s*${id}\\s*[,}]`);
    for (;;) {
      // The id sits near one end of an answer; a line deeper than any parser goes is still recognised.
      const found = this.lines.find((line) => [line.slice(0, 200), line.slice(-200)].some((end) => tag.test(end) && !/"method"\s*:/.test(end)));
      if (found !== undefined) return found;
      if (Date.now() > deadline) return undefined;
      await Bun.sleep(20);
    }
  }

  async close(): Promise<void> {
    (this.child.stdin as import("bun").FileSink).end();
    const exited = await Promise.race([this.child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
    if (!exited) this.child.kill("SIGKILL");
  }
}
