import type { Socket } from "bun";

/**
 * POSTs to msm's own daemons over persistent raw HTTP/1.1 connections on loopback.
 *
 * Why not fetch: Bun's fetch hands every request to its HTTP thread and back (~0.1 ms on loopback), and its pool
 * gives out sockets to a daemon that has died, whose failure cannot be told from a request the daemon was handling.
 * A new connection per POST made a dead daemon a certain refusal but cost ~0.25 ms a message. Here one socket per
 * concurrent request is kept open, and what the kernel reports says for certain whether a message reached a daemon:
 *
 * - an idle socket the daemon closed (its death or its stop) reports that as an end or error while idle: it is dropped
 *   and never written to;
 * - the close can still be on its way when a message is written. A socket the daemon closed answers data with a
 *   reset, which arrives after the end-of-stream as EPIPE (Linux: RST in CLOSE_WAIT; verified with Bun 1.4's
 *   Bun.connect and node:net, `allowHalfOpen` so the runtime does not close our side first): the message was never
 *   read, and is resent (`NOT_DELIVERED`, like a refused connection);
 * - an end-of-stream with no answer byte and no such reset is a daemon that read the message and then went away: the
 *   request may have run, so it is answered with an error, as for any request in flight when a daemon dies.
 *
 * A wrong guess can only turn a resendable message into an error, never send one twice: no EPIPE can follow the end
 * unless data arrived after the daemon's close, and nothing is written after the request.
 *
 * Bun.connect rather than node:net: the same round trip, and ~2.5 MB less memory in every proxy.
 */

/** How long an end-of-stream with no answer waits for the reset that proves the message was never read. */
export const RESET_SETTLE_MS = 100;
/** Idle connections kept per daemon (one is used per concurrent request). */
const MAX_IDLE = 8;

/** The error of a message that certainly never reached the daemon: safe to resend. */
export const NOT_DELIVERED = "MSM_NOT_DELIVERED";

export interface LoopbackInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

const pools = new Map<string, Pool>();
/** Parsed request targets by URL (a proxy talks to one daemon; parsing it again per message costs more than the rest). */
const targets = new Map<string, { pool: Pool; path: string; host: string }>();

/** One request on a kept-alive connection to `url` (http, loopback); resolves with the answer like fetch. */
export function loopbackRequest(url: string, init: LoopbackInit): Promise<Response> {
  let target = targets.get(url);
  if (!target) {
    const { hostname, port, pathname, search, host } = new URL(url);
    let pool = pools.get(host);
    if (!pool) pools.set(host, (pool = new Pool(hostname.replace(/^\[|\]$/g, ""), Number(port) || 80)));
    target = { pool, path: pathname + search, host };
    if (targets.size > 16) targets.clear();
    targets.set(url, target);
  }
  return target.pool.request(target.path, target.host, init);
}

/** Closes every kept connection (tests; a proxy that exits just goes). */
export function closeLoopbackConnections(): void {
  for (const pool of pools.values()) pool.close();
  pools.clear();
  targets.clear();
}

/** What a connection is doing: carrying an exchange, or idle in the pool. */
interface Owner {
  data(chunk: Buffer): void;
  end(): void;
  close(error: (Error & { code?: string }) | undefined): void;
  drain(): void;
}

const handlers = {
  data: (socket: Socket<Owner>, chunk: Buffer) => socket.data.data(chunk),
  end: (socket: Socket<Owner>) => socket.data.end(),
  close: (socket: Socket<Owner>, error?: Error) => socket.data.close(error),
  error: (socket: Socket<Owner>, error: Error) => socket.data.close(error),
  drain: (socket: Socket<Owner>) => socket.data.drain(),
};

class Pool {
  private readonly idle: Socket<Owner>[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  request(path: string, hostHeader: string, init: LoopbackInit): Promise<Response> {
    let head = `${init.method} ${path} HTTP/1.1\r\nhost: ${hostHeader}\r\n`;
    for (const name in init.headers) head += `${name}: ${init.headers[name]}\r\n`;
    const body = init.body ?? "";
    head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const data = Buffer.from(head + body);
    const exchange = new Exchange(this);
    const kept = this.idle.pop();
    if (kept) exchange.start(kept, data);
    else {
      Bun.connect<Owner>({ hostname: this.host, port: this.port, allowHalfOpen: true, data: exchange, socket: handlers }).then(
        (socket) => {
          socket.setNoDelay(true);
          exchange.start(socket, data);
        },
        (error: Error & { code?: string }) => exchange.close(error),
      );
    }
    return exchange.promise;
  }

  /** A connection whose answer is complete goes back for the next request. */
  release(socket: Socket<Owner>): void {
    if (this.idle.length >= MAX_IDLE) return void socket.terminate();
    // The daemon closed it (or sent something unasked): never write to it again.
    const drop = () => {
      const at = this.idle.indexOf(socket);
      if (at < 0) return;
      this.idle.splice(at, 1);
      socket.terminate();
    };
    socket.data = { data: drop, end: drop, close: drop, drain: () => {} };
    this.idle.push(socket);
  }

  close(): void {
    for (const socket of this.idle.splice(0)) socket.terminate();
  }
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** One request and its answer on one socket. */
class Exchange implements Owner {
  readonly promise: Promise<Response>;
  private socket: Socket<Owner> | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private headers: Headers | undefined;
  private gotBytes = false;
  private http10 = false;
  private done = false;
  private resolve!: (response: Response) => void;
  private reject!: (error: Error) => void;
  /** Content-length answers: bytes still to come; chunked: undefined. */
  private remaining: number | undefined;
  private chunks: Buffer[] = [];
  private stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  private settleTimer: Timer | undefined;
  /** Request bytes the socket has not taken yet (a large message is written as the kernel takes it). */
  private unsent: Buffer | undefined;

  constructor(private readonly pool: Pool) {
    this.promise = new Promise<Response>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  start(socket: Socket<Owner>, data: Buffer): void {
    this.socket = socket;
    socket.data = this;
    this.unsent = data;
    this.drain();
  }

  drain(): void {
    const data = this.unsent;
    if (!data || this.done || !this.socket) return;
    const written = this.socket.write(data);
    this.unsent = written >= 0 && written < data.length ? data.subarray(written) : undefined;
  }

  private destroy(): void {
    this.socket?.terminate();
  }

  data(chunk: Buffer): void {
    if (this.done) return;
    this.gotBytes = true;
    if (!this.headers) {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      const end = this.buffer.indexOf(CRLF2);
      if (end < 0) return;
      if (!this.parseHead(this.buffer.subarray(0, end).toString("latin1"))) return;
      const rest = this.buffer.subarray(end + 4);
      this.buffer = Buffer.alloc(0);
      if (this.remaining === 0) return this.complete();
      if (rest.length) this.body(rest);
      return;
    }
    this.body(chunk);
  }

  private parseHead(text: string): boolean {
    const lines = text.split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    // msm never sends `Expect`, so an informational (1xx) answer is as wrong as garbage.
    if (!status || Number(status[1]) < 200) {
      this.abort(lost(`not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`));
      return false;
    }
    this.status = Number(status[1]);
    this.http10 = lines[0]!.startsWith("HTTP/1.0");
    const headers = new Headers();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    this.headers = headers;
    const chunked = /chunked/i.test(headers.get("transfer-encoding") ?? "");
    const length = headers.get("content-length");
    if (this.status === 204 || this.status === 304) this.remaining = 0;
    else if (!chunked && length !== null) this.remaining = Number(length);
    else if (!chunked) {
      // Neither: the answer runs until the daemon closes (not what Bun sends; handled as a stream, never reused).
      this.remaining = Infinity;
    }
    if (chunked || this.remaining === Infinity) this.openStream();
    return true;
  }

  /** A chunked or unbounded answer (an event stream) is handed over as it comes. */
  private openStream(): void {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.stream = controller;
      },
      cancel: () => {
        this.done = true;
        this.destroy();
      },
    });
    this.resolve(new Response(body, { status: this.status, headers: this.headers }));
  }

  private body(chunk: Buffer): void {
    if (this.remaining === undefined) return this.chunked(chunk);
    if (this.remaining === Infinity) return void this.stream?.enqueue(new Uint8Array(chunk));
    const take = chunk.length <= this.remaining ? chunk : chunk.subarray(0, this.remaining);
    this.chunks.push(take);
    this.remaining -= take.length;
    if (this.remaining === 0) this.complete();
  }

  /** Chunked transfer coding: `<hex size>\r\n<data>\r\n` … `0\r\n\r\n`. */
  private chunked(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const line = this.buffer.indexOf("\r\n");
      if (line < 0) return;
      const size = parseInt(this.buffer.subarray(0, line).toString("latin1"), 16);
      if (!Number.isFinite(size)) return this.abort(new Error("malformed chunked answer"));
      if (size === 0) {
        // The last chunk (trailers are not used by msm's daemons): the answer is complete.
        if (this.buffer.length < line + 4) return;
        return this.complete();
      }
      if (this.buffer.length < line + 2 + size + 2) return;
      const data = this.buffer.subarray(line + 2, line + 2 + size);
      this.buffer = this.buffer.subarray(line + 2 + size + 2);
      try {
        this.stream?.enqueue(new Uint8Array(data));
      } catch {}
    }
  }

  private complete(): void {
    this.done = true;
    clearTimeout(this.settleTimer);
    const connection = this.headers?.get("connection") ?? "";
    const keep = this.remaining !== Infinity && (this.http10 ? /keep-alive/i.test(connection) : !/close/i.test(connection));
    if (this.stream) {
      try {
        this.stream.close();
      } catch {}
    } else {
      const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.resolve(new Response(body.length ? body : null, { status: this.status, headers: this.headers }));
    }
    if (keep && this.socket) this.pool.release(this.socket);
    else this.destroy();
  }

  /** End of stream from the daemon. */
  end(): void {
    if (this.done) return;
    if (this.remaining === Infinity && this.headers) return this.complete();
    if (this.gotBytes) return this.abort(lost("the MCP server closed the connection in the middle of its answer"));
    // Nothing came back: a reset proving the message was never read may still be on its way (see the top).
    this.settleTimer = setTimeout(() => this.abort(lost("the MCP server closed the connection without answering")), RESET_SETTLE_MS);
  }

  /** The connection closed (with the error that closed it, if any), or could not be made. */
  close(error: (Error & { code?: string }) | undefined): void {
    if (this.done) return;
    if (!error) return this.abort(lost("the connection closed"));
    if (!this.gotBytes && (error.code === "ECONNREFUSED" || error.code === "EPIPE")) {
      // Refused: no daemon listens. EPIPE: the daemon had closed this connection before the message arrived.
      return this.abort(
        Object.assign(new Error(`the message did not reach the MCP server (${error.code})`), { code: error.code === "EPIPE" ? NOT_DELIVERED : error.code }),
      );
    }
    this.abort(this.gotBytes ? lost(`the connection broke in the middle of the answer (${error.message})`) : lost(`the connection broke (${error.message})`));
  }

  private abort(error: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.settleTimer);
    this.destroy();
    if (this.stream) {
      try {
        this.stream.error(error);
      } catch {}
    } else this.reject(error);
  }
}

function lost(message: string): Error {
  return Object.assign(new Error(message), { code: "ECONNRESET" });
}
