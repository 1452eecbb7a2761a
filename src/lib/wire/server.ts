import { timingSafeEqual } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import type { Socket } from "bun";
import { MAX_SOCKET_PATH_BYTES, WIRE_VERSION, type WireAddress, type WireBye, type WireHello, type WireRefused, type WireWelcome } from "../contracts/wire.ts";
import { errorResponse, INVALID_REQUEST, PARSE_ERROR, type JsonRpcId, type JsonRpcMessage } from "../jsonrpc/messages.ts";
import { recoverId } from "../jsonrpc/lines.ts";
import { joinLine, LineSplitter, Outbox, type LinePieces } from "./lines.ts";

/**
 * The daemon's end of the line wire (contracts/wire.ts): a listener on a Unix socket in MSM_HOME (0600; loopback TCP
 * on Windows, or when the path is too long for a socket), one session per connection. What HTTP gives a daemon per
 * request — the token checked, the project named, the session found — a connection settles once, in its hello; after
 * that a message costs a line split, a JSON.parse and the session's own work.
 */

/** What the proxy said about its session in its hello. */
export interface WireHelloInfo {
  project?: string;
  pid?: number;
}

/** One proxy's connection, as its session writes to it. */
export interface WireLink {
  /** A notification or a request of the server's own. False once the connection is closed. */
  send(text: string): boolean;
  /**
   * The answer to the proxy's request `id`, written as JSON text (or as byte parts: a large answer passed on as its
   * server wrote it). Dropped when that request was cancelled or already answered, as the HTTP wire drops an answer
   * whose request was released.
   */
  answer(id: JsonRpcId, text: string): void;
  answerBytes(id: JsonRpcId, parts: Uint8Array[]): void;
  /** Bytes the proxy has not taken yet. */
  readonly queued: number;
  /** Ends the connection now, without a bye (a session cut off); the proxy recovers as after a daemon restart. */
  cut(reason: string): void;
}

/** A daemon's session on one connection. */
export interface WireSession {
  /** One JSON-RPC message from the proxy; `raw` is its line's bytes. */
  message(message: JsonRpcMessage, raw: Uint8Array): void;
  /** The connection is gone (its proxy exited or was killed, or the daemon is stopping). Called once. */
  closed(reason: string): void;
}

export interface WireServerOptions {
  /** msm's token: a hello must carry it. */
  token: string;
  /** The Unix socket to listen on; undefined: loopback TCP. */
  socketPath: string | undefined;
  /** A hello was accepted: the session for this connection. */
  open(link: WireLink, hello: WireHelloInfo): WireSession;
  /** Longest line a proxy may send (msm's message limit). */
  maxLineBytes: number;
  /** Most bytes a proxy may leave unread before it is cut off (a proxy that stopped reading). */
  queueLimit: number;
  version: string;
  log: { info(message: string): void; warn(message: string): void };
}

export interface WireServer {
  readonly address: WireAddress;
  /** Connections with a session. */
  readonly sessions: number;
  /**
   * Stops on purpose: no new connections; each session is closed (its unanswered requests answered with an error),
   * told how many of its lines were read (a bye), and ended.
   */
  stop(reason: string): void;
}

/** How long a new connection may take to say hello before it is closed. */
export const HELLO_TIMEOUT_MS = 10_000;
/** What a session's requests still unanswered get when the daemon stops or the session is closed. */
export const CLOSED_ANSWER = "The session closed before the request was answered";

const decoder = new TextDecoder();

/** Where the line wire of daemon `name` listens on this machine: its socket path, or undefined for loopback TCP. */
export function wireSocketPath(home: string, name: string): string | undefined {
  if (process.platform === "win32") return undefined;
  const path = `${home}/${name}.sock`;
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES ? path : undefined;
}

export function serveWire(options: WireServerOptions): WireServer {
  const connections = new Set<Connection>();
  const handlers = {
    open: (socket: Socket<Connection>) => {
      const connection = new Connection(socket, options, () => connections.delete(connection));
      socket.data = connection;
      connections.add(connection);
    },
    data: (socket: Socket<Connection>, chunk: Buffer) => socket.data.data(chunk),
    drain: (socket: Socket<Connection>) => socket.data.outbox.drain(),
    end: (socket: Socket<Connection>) => socket.data.gone("its proxy closed the connection"),
    close: (socket: Socket<Connection>, error?: Error) => socket.data?.gone(error ? `the connection broke (${error.message})` : "its proxy went away"),
    error: (socket: Socket<Connection>, error: Error) => socket.data?.gone(`the connection broke (${error.message})`),
  };
  let listener: { stop(closeActive?: boolean): void };
  let address: WireAddress;
  if (options.socketPath) {
    const path = options.socketPath;
    // The daemon holds its lock: a socket file here is a dead predecessor's.
    rmSync(path, { force: true });
    // Only this user may connect (MSM_HOME is 0700 too): the socket is created under a umask that leaves it 0600.
    const umask = process.umask(0o177);
    try {
      listener = Bun.listen<Connection>({ unix: path, socket: handlers });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    address = { unix: path };
  } else {
    const tcp = Bun.listen<Connection>({ hostname: "127.0.0.1", port: 0, socket: handlers });
    listener = tcp;
    address = { port: tcp.port };
  }
  return {
    address,
    get sessions() {
      let n = 0;
      for (const c of connections) if (c.session) n++;
      return n;
    },
    stop(reason) {
      listener.stop(false);
      for (const connection of [...connections]) connection.stop(reason);
    },
  };
}

class Connection implements WireLink {
  readonly outbox: Outbox;
  session: WireSession | undefined;
  private readonly splitter: LineSplitter;
  private helloTimer: Timer | undefined;
  private hello = false;
  /** JSON-RPC lines handed to the session: what a bye reports. */
  private read = 0;
  private ended = false;
  /** The proxy's requests not yet answered. */
  private readonly open = new Set<JsonRpcId>();

  constructor(
    private readonly socket: Socket<Connection>,
    private readonly options: WireServerOptions,
    private readonly forget: () => void,
  ) {
    this.outbox = new Outbox(socket, (queued) => {
      if (queued > options.queueLimit) this.cut(`cut off: more than ${options.queueLimit} bytes waiting for a proxy that stopped reading`);
    });
    this.splitter = new LineSplitter(
      {
        line: (line) => this.line(line),
        tooLarge: (head, tail, bytes) => this.refuseLine(head, tail, bytes),
      },
      options.maxLineBytes,
    );
    this.helloTimer = setTimeout(() => this.gone("no hello"), HELLO_TIMEOUT_MS);
    this.helloTimer.unref?.();
  }

  get queued(): number {
    return this.outbox.queued;
  }

  data(chunk: Buffer): void {
    if (this.ended) return;
    this.splitter.push(chunk);
  }

  private line(line: LinePieces): void {
    if (this.ended) return;
    const bytes = joinLine(line);
    if (!this.hello) return this.greet(bytes);
    let message: JsonRpcMessage;
    try {
      message = JSON.parse(decoder.decode(bytes)) as JsonRpcMessage;
    } catch {
      // The proxy only sends what it parsed itself: nothing to count, but never silence.
      this.send(JSON.stringify(errorResponse(null, PARSE_ERROR, "Parse error: the line is not valid JSON")));
      return;
    }
    this.read++;
    if (typeof message.method === "string" && message.id !== undefined && message.id !== null) this.open.add(message.id);
    else if (message.method === "notifications/cancelled") {
      // The proxy will ignore an answer to a cancelled request (spec, cancellation): none is written.
      const id = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      if (id !== undefined) this.open.delete(id);
    }
    try {
      this.session?.message(message, bytes);
    } catch (error) {
      // One odd message must not take the connection (or the daemon) down with it.
      this.options.log.warn(`a wire message failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  private greet(bytes: Uint8Array): void {
    clearTimeout(this.helloTimer);
    let hello: Partial<WireHello> | undefined;
    try {
      hello = JSON.parse(decoder.decode(bytes)) as Partial<WireHello>;
    } catch {}
    if (hello?.msm !== "hello" || typeof hello.token !== "string") return this.refuse("the first line must be msm's hello");
    if (!sameSecret(hello.token, this.options.token)) return this.refuse("missing or wrong token (see $MSM_HOME/token)");
    if (hello.v !== WIRE_VERSION) return this.refuse(`wire version ${String(hello.v)} is not ${WIRE_VERSION}`);
    this.hello = true;
    const welcome: WireWelcome = { msm: "welcome", v: WIRE_VERSION, pid: process.pid, version: this.options.version };
    this.outbox.line(JSON.stringify(welcome));
    const info: WireHelloInfo = {};
    if (typeof hello.project === "string") info.project = hello.project;
    if (typeof hello.pid === "number") info.pid = hello.pid;
    try {
      this.session = this.options.open(this, info);
    } catch (error) {
      this.options.log.warn(`a wire session could not be opened: ${(error as Error).message}`);
      this.gone("could not open a session");
    }
  }

  private refuse(message: string): void {
    this.options.log.warn(`refused a wire connection: ${message}`);
    const refused: WireRefused = { msm: "refused", message };
    this.outbox.line(JSON.stringify(refused));
    this.end();
  }

  /** A line over the limit (the proxy refuses such editor lines itself): its request still gets an answer. */
  private refuseLine(head: Uint8Array, tail: Uint8Array, bytes: number): void {
    this.read++;
    this.options.log.warn(`dropped a ${bytes}-byte line from a proxy (over the message limit)`);
    const id = recoverId(decoder.decode(head), decoder.decode(tail));
    if (id !== null) this.send(JSON.stringify(errorResponse(id, INVALID_REQUEST, `Invalid Request: message too large (${bytes} bytes), discarded`)));
  }

  send(text: string): boolean {
    return this.outbox.line(text);
  }

  answer(id: JsonRpcId, text: string): void {
    if (this.open.delete(id)) this.outbox.line(text);
  }

  answerBytes(id: JsonRpcId, parts: Uint8Array[]): void {
    if (this.open.delete(id)) this.outbox.bytes(parts);
  }

  cut(reason: string): void {
    // Closing its session (on a stop, say) ends the session's wire too: that is not a cut.
    if (this.ended || !this.session) return;
    this.options.log.warn(reason);
    this.closeSession(reason);
    this.end(true);
  }

  /** The daemon stops: unanswered requests get an error, the proxy learns how many lines were read, and it ends. */
  stop(reason: string): void {
    if (this.ended) return;
    this.closeSession(reason);
    for (const id of [...this.open]) this.answer(id, JSON.stringify(errorResponse(id, -32000, CLOSED_ANSWER)));
    if (this.hello) {
      const bye: WireBye = { msm: "bye", read: this.read };
      this.outbox.line(JSON.stringify(bye));
    }
    this.end();
  }

  /** The connection closed or broke from the proxy's side. */
  gone(reason: string): void {
    if (this.ended) return;
    this.closeSession(reason);
    this.end(true);
  }

  private closeSession(reason: string): void {
    const session = this.session;
    this.session = undefined;
    session?.closed(reason);
  }

  private end(now = false): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.helloTimer);
    this.forget();
    if (now || this.outbox.queued === 0) {
      this.outbox.close();
      if (now) this.socket.terminate();
      else this.socket.end();
      return;
    }
    // What waits (the errors, the bye) goes first, then the end; a proxy that does not read gets no longer than this.
    const timer = setTimeout(() => this.socket.terminate(), HELLO_TIMEOUT_MS);
    timer.unref?.();
    this.outbox.whenDrained(() => {
      clearTimeout(timer);
      this.socket.end();
    });
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
