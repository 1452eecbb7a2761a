import type { Socket } from "bun";
import { CONTROL_PREFIX, WIRE_VERSION, type WireAddress, type WireControl, type WireHello } from "../lib/contracts/wire.ts";
import { answerIdAtEnds, MAX_MESSAGE_BYTES, recoverId } from "../lib/jsonrpc/lines.ts";
import { isRequest, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { headText, joinLine, LineSplitter, Outbox, tailText, type LinePieces } from "../lib/wire/lines.ts";
import { errorText } from "./bridge.ts";
import { NOT_DELIVERED } from "./loopback.ts";
import { StreamableBridge } from "./streamable.ts";

/**
 * An answer line at least this long is passed to the editor as the bytes it arrived as, when nothing in the proxy
 * needs to read it (not initialize, not a list): only its id is read, from its ends.
 */
export const RAW_LINE_BYTES = 256 * 1024;
/**
 * Longest line taken from a daemon: msm's message limit (a host drops a child's longer lines itself), and room for an
 * id the host rewrote longer.
 */
const MAX_LINE_BYTES = MAX_MESSAGE_BYTES + 64 * 1024;

/** Answers to these are read by the proxy (the discovery cache records them, tool rules filter the lists). */
const READ_ANSWERS = new Set(["initialize", "server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list"]);

const STOPPED_MID_REQUEST = "msm: the MCP server stopped while handling this request (it may have restarted); the request may not have completed — retry it";

const decoder = new TextDecoder();
const WIRE_REFUSED = "WIRE_REFUSED";

/**
 * The line wire to msm's own daemons (contracts/wire.ts): one connection for the session, the editor's messages
 * written on it as lines and the server's read from it as they come — no HTTP exchange per message, no event
 * streams, no session id. Recovery is the bridge's, as for HTTP: a connection refused (no socket file, or no daemon
 * behind it) is certain, and the message is resent once a daemon is back; a connection that closes under requests
 * fails them — except those a stopping daemon said it never read (its bye), which are resent. A daemon that does not
 * offer the wire (its lock names none: an older msm, or no socket where it runs) is spoken to over HTTP, as
 * StreamableBridge would, generation by generation.
 */
export class WireBridge extends StreamableBridge {
  private link: WireConnection | undefined;
  /** The editor's requests written on the link, and the line number each went as (for a bye). */
  private readonly written = new Map<JsonRpcId, { seq: number; message: JsonRpcMessage }>();

  protected override connected(): boolean {
    if (this.upstream?.wire) return this.link?.usable === true;
    return super.connected();
  }

  protected override async post(message: JsonRpcMessage): Promise<Response | undefined> {
    const link = this.link;
    if (!this.upstream?.wire || !link) return super.post(message);
    const seq = link.write(this.body(message));
    // Never written: certain not to have reached the daemon, so it is resent once a daemon is back.
    if (seq < 0) throw Object.assign(new Error("the connection to the MCP server is closed"), { code: NOT_DELIVERED });
    if (isRequest(message)) this.written.set(message.id, { seq, message });
    return undefined;
  }

  protected override async reopen(generation: number): Promise<void> {
    const old = this.link;
    this.link = undefined;
    old?.end();
    this.written.clear();
    const wire = this.upstream?.wire;
    if (!wire) return super.reopen(generation);
    this.forgetSession();
    const hello: WireHello = {
      msm: "hello",
      v: WIRE_VERSION,
      token: wire.token,
      pid: process.pid,
      ...(wire.project === undefined ? {} : { project: wire.project }),
    };
    let link: WireConnection;
    try {
      link = await WireConnection.open(wire.address, hello, {
        line: (from, line) => this.received(from, line),
        tooLarge: (from, id, bytes) => {
          // Never silence: the request it answered hears why.
          if (from === this.link && id !== null)
            this.failId(id, `msm: the server's answer was ${(bytes / 1024 / 1024).toFixed(1)} MiB, over the 64 MiB msm passes on`);
        },
        closed: (from, bye, why) => this.linkClosed(from, generation, bye, why),
      });
    } catch (error) {
      if ((error as { code?: unknown }).code !== WIRE_REFUSED) throw error;
      // The daemon refused the hello (a token that is not its own, a wire version it does not speak): this session
      // speaks HTTP to it, whose answers say what is wrong exactly as they would without the wire.
      this.log.warn(`${errorText(error)}; using HTTP`);
      this.upstream = { ...this.upstream!, wire: undefined };
      return super.reopen(generation);
    }
    if (this.closing) {
      link.end();
      throw new Error("msm is shutting down");
    }
    this.link = link;
    link.start();
    if (!this.established) return;
    // A new session: the editor's own initialize again (answer swallowed), then notifications/initialized.
    const replay = this.replayInitialize();
    const answer = await new Promise<JsonRpcMessage | undefined>((resolve) => {
      link.onEnd(() => resolve(undefined));
      void replay.answer.then(resolve);
      if (link.write(this.body(replay.message)) < 0) resolve(undefined);
    });
    this.forgetReplay(replay.message.id);
    if (!answer?.result) {
      link.end();
      throw new Error(`initialize was refused: ${JSON.stringify(answer?.error ?? "the connection closed")}`);
    }
    if (this.initializedMessage) link.write(this.body(this.initializedMessage));
  }

  /** One line from the daemon: a large answer goes on as bytes when the proxy need not read it; the rest is parsed. */
  private received(link: WireConnection, line: LinePieces): void {
    if (link !== this.link) return;
    if (line.bytes >= RAW_LINE_BYTES) {
      const id = answerIdAtEnds(headText(line, 128), tailText(line, 128), line.bytes)?.id;
      const method = id === undefined ? undefined : this.pendingMethod(id);
      if (id !== undefined && method !== undefined && !READ_ANSWERS.has(method)) {
        this.written.delete(id);
        this.deliverLine(id, line);
        this.pauseForRoom(link);
        return;
      }
    }
    const messages = this.deliverText(decoder.decode(joinLine(line)));
    for (const message of messages) if (message.method === undefined && message.id !== undefined && message.id !== null) this.written.delete(message.id);
    this.pauseForRoom(link);
  }

  /** The editor has too much unread: the daemon's lines wait in the socket (and then in the daemon, which bounds them). */
  private pauseForRoom(link: WireConnection): void {
    const room = this.room();
    if (!room) return;
    link.pause();
    void room.then(() => link.resume());
  }

  private linkClosed(link: WireConnection, generation: number, bye: number | undefined, why: string): void {
    if (link !== this.link) return;
    this.log.debug(`the connection to the MCP server closed (${why})${bye === undefined ? "" : `; it read ${bye} lines`}`);
    const written = [...this.written.values()];
    this.written.clear();
    for (const { seq, message } of written) {
      if (!this.isOwed(message)) continue;
      if (bye !== undefined && seq > bye) {
        // A stopping daemon never read it: certain, so it goes to the next daemon.
        this.markSent(message, undefined);
        void this.forward(message, false).catch((error) => this.fail(message, `msm: ${errorText(error)}`));
      } else this.fail(message, STOPPED_MID_REQUEST);
    }
    if (this.closing) return;
    // The daemon is gone: a new session at once if one is (re)starting anyway, so what it says unprompted reaches the
    // editor; a daemon stopped on purpose stays stopped until the editor's next request.
    void this.recover(generation, "stream").catch((error) => this.log.debug(`event stream not reopened (its connection closed): ${errorText(error)}`));
  }

  protected override async shutdown(deleteTimeoutMs: number): Promise<void> {
    const link = this.link;
    this.link = undefined;
    if (link) {
      // The daemon ends the session as the connection closes: nothing to delete.
      link.end();
      return;
    }
    return super.shutdown(deleteTimeoutMs);
  }
}

interface ConnectionEvents {
  line(connection: WireConnection, line: LinePieces): void;
  /** A line past MAX_LINE_BYTES, dropped as it streamed; `id`: the request it answered, when its ends tell. */
  tooLarge(connection: WireConnection, id: JsonRpcId | null, bytes: number): void;
  /** The connection is gone; `bye`: the daemon stopped on purpose having read that many lines. Once. */
  closed(connection: WireConnection, bye: number | undefined, why: string): void;
}

/** One connection to a daemon's line wire: the hello answered, then lines both ways. */
class WireConnection {
  private readonly splitter: LineSplitter;
  private outbox: Outbox | undefined;
  private socket: Socket<WireConnection> | undefined;
  /** JSON-RPC lines written after the hello. */
  private lines = 0;
  private welcomed = false;
  private bye: number | undefined;
  private gone = false;
  private readonly endWaiters: (() => void)[] = [];
  private settle: ((error?: Error) => void) | undefined;
  /** Lines (and the close) that came before its owner took it (`start`). */
  private held: LinePieces[] | undefined = [];
  private heldClose: string | undefined;

  private constructor(private readonly events: ConnectionEvents) {
    this.splitter = new LineSplitter(
      {
        line: (line) => this.line(line),
        tooLarge: (head, tail, bytes) => this.events.tooLarge(this, recoverId(decoder.decode(head), decoder.decode(tail)), bytes),
      },
      MAX_LINE_BYTES,
    );
  }

  /** Connects and says hello; resolves once the daemon welcomed it. Refused or closed first: rejects. */
  static open(address: WireAddress, hello: WireHello, events: ConnectionEvents): Promise<WireConnection> {
    const connection = new WireConnection(events);
    return new Promise<WireConnection>((resolve, reject) => {
      connection.settle = (error) => {
        connection.settle = undefined;
        if (error) reject(error);
        else resolve(connection);
      };
      const socket = { allowHalfOpen: true, data: connection, socket: HANDLERS };
      const connecting =
        "unix" in address
          ? Bun.connect<WireConnection>({ ...socket, unix: address.unix })
          : Bun.connect<WireConnection>({ ...socket, hostname: "127.0.0.1", port: address.port });
      connecting.then(
        (socket) => {
          if ("port" in address) socket.setNoDelay(true);
          connection.socket = socket;
          connection.outbox = new Outbox(socket);
          connection.outbox.line(JSON.stringify(hello));
        },
        // ENOENT (no socket file) or ECONNREFUSED (no daemon behind it): certain, the bridge resends.
        (error: Error) => connection.settle?.(error),
      );
    });
  }

  /** Its owner has it now: what came meanwhile is handed over, then everything as it comes. */
  start(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) this.events.line(this, line);
    if (this.heldClose !== undefined) this.events.closed(this, this.bye, this.heldClose);
  }

  /** Open, welcomed and not closed: messages may go. */
  get usable(): boolean {
    return this.welcomed && !this.gone && this.bye === undefined;
  }

  /** Writes one message line; its number on this connection, or -1 when the connection is closed. */
  write(text: string): number {
    if (!this.usable || !this.outbox?.line(text)) return -1;
    return ++this.lines;
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  onEnd(done: () => void): void {
    if (this.gone) done();
    else this.endWaiters.push(done);
  }

  /** Ends it (the daemon ends the session); what is still queued goes first. */
  end(): void {
    if (this.gone) return;
    const socket = this.socket;
    if (!socket) return this.closed("ended");
    if (this.outbox?.queued) this.outbox.whenDrained(() => socket.end());
    else socket.end();
    this.closed("ended by the proxy");
  }

  data(chunk: Buffer): void {
    if (!this.gone) this.splitter.push(chunk);
  }

  drain(): void {
    this.outbox?.drain();
  }

  private line(line: LinePieces): void {
    if (this.gone) return;
    // Control lines open and end a connection; everything else is the server's.
    if ((!this.welcomed || line.bytes < 256) && startsWith(line, CONTROL_PREFIX)) return this.control(line);
    if (!this.welcomed) return;
    if (this.held) this.held.push(line);
    else this.events.line(this, line);
  }

  private control(line: LinePieces): void {
    let control: Partial<WireControl> | undefined;
    try {
      control = JSON.parse(decoder.decode(joinLine(line))) as Partial<WireControl>;
    } catch {}
    if (control?.msm === "welcome" && !this.welcomed) {
      this.welcomed = true;
      this.settle?.();
    } else if (control?.msm === "refused") {
      const message = typeof (control as { message?: unknown }).message === "string" ? (control as { message: string }).message : "refused";
      this.closed(
        `the daemon refused the connection: ${message}`,
        Object.assign(new Error(`the daemon refused the connection: ${message}`), { code: "WIRE_REFUSED" }),
      );
      this.socket?.terminate();
    } else if (control?.msm === "bye" && typeof (control as { read?: unknown }).read === "number") {
      this.bye = (control as { read: number }).read;
    }
  }

  closed(why: string, error?: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.outbox?.close();
    if (this.settle) {
      // Nothing but the hello was sent: whatever closed it, no message of the editor's was lost.
      this.settle(error ?? Object.assign(new Error(`the MCP server closed the connection before it answered the hello (${why})`), { code: NOT_DELIVERED }));
      return;
    }
    for (const done of this.endWaiters.splice(0)) done();
    if (this.held) this.heldClose = why;
    else this.events.closed(this, this.bye, why);
  }
}

const HANDLERS = {
  data: (socket: Socket<WireConnection>, chunk: Buffer) => socket.data.data(chunk),
  drain: (socket: Socket<WireConnection>) => socket.data.drain(),
  end: (socket: Socket<WireConnection>) => {
    socket.data.closed("the daemon closed the connection");
    socket.end();
  },
  close: (socket: Socket<WireConnection>, error?: Error) => socket.data.closed(error ? `the connection broke (${error.message})` : "the connection closed"),
  error: (socket: Socket<WireConnection>, error: Error) => socket.data.closed(`the connection broke (${error.message})`),
};

function startsWith(line: LinePieces, prefix: string): boolean {
  const first = line.parts[0];
  if (!first || first.length < prefix.length) return headText(line, prefix.length) === prefix;
  for (let i = 0; i < prefix.length; i++) if (first[i] !== prefix.charCodeAt(i)) return false;
  return true;
}
