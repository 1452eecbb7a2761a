/**
 * Both ends of the line wire (contracts/wire.ts) share these: a splitter that turns a socket's byte chunks into lines
 * without copying or decoding them, and an outbox that writes lines to a Bun socket in order, keeping what the
 * socket cannot take yet. No imports: the proxy loads this.
 */

const NEWLINE = 0x0a;

/**
 * One line as it arrived: the chunks (or parts of chunks) it spans, in order, without its newline. A small line is
 * one part; a 50 MB answer is hundreds, and stays so — it can be written on as it is, never joined or decoded whole.
 */
export interface LinePieces {
  parts: Uint8Array[];
  bytes: number;
}

export interface SplitterEvents {
  line(line: LinePieces): void;
  /** A line past `maxBytes`: dropped as it streamed, only its first and last bytes kept (to find its id). */
  tooLarge?(head: Uint8Array, tail: Uint8Array, bytes: number): void;
}

/** Bytes kept from each end of a dropped line. */
const PEEK_BYTES = 64 * 1024;

export class LineSplitter {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  private dropping = false;
  private head: Uint8Array | undefined;
  private tail: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly events: SplitterEvents,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Bytes of the line still being received. */
  get pending(): number {
    return this.bytes;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      if (end > start) this.take(chunk.subarray(start, end));
      if (nl < 0) return;
      this.finish();
      start = nl + 1;
    }
  }

  private take(piece: Uint8Array): void {
    this.bytes += piece.length;
    if (!this.dropping && this.bytes <= this.maxBytes) {
      this.parts.push(piece);
      return;
    }
    if (!this.dropping) {
      this.dropping = true;
      this.head = joinPieces(this.parts, PEEK_BYTES);
      this.parts = [];
    }
    this.tail = lastBytes(this.tail, piece);
  }

  private finish(): void {
    const { parts, bytes, dropping } = this;
    this.parts = [];
    this.bytes = 0;
    if (dropping) {
      const head = this.head!;
      const tail = this.tail;
      this.dropping = false;
      this.head = undefined;
      this.tail = new Uint8Array(0);
      this.events.tooLarge?.(head, tail, bytes);
      return;
    }
    // A CR before the newline belongs to the line ending, as for stdio.
    const last = parts[parts.length - 1];
    if (last && last[last.length - 1] === 0x0d) {
      parts[parts.length - 1] = last.subarray(0, -1);
      if (bytes === 1) return;
      this.events.line({ parts, bytes: bytes - 1 });
      return;
    }
    if (bytes > 0) this.events.line({ parts, bytes });
  }
}

/** The line's bytes in one array (a copy only when it spans several chunks). */
export function joinLine(line: LinePieces): Uint8Array {
  return line.parts.length === 1 ? line.parts[0]! : joinPieces(line.parts, line.bytes);
}

function joinPieces(parts: Uint8Array[], limit: number): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const part of parts) {
    if (offset >= out.length) break;
    const take = part.subarray(0, out.length - offset);
    out.set(take, offset);
    offset += take.length;
  }
  return out;
}

function lastBytes(previous: Uint8Array, piece: Uint8Array): Uint8Array {
  if (piece.length >= PEEK_BYTES) return piece.slice(piece.length - PEEK_BYTES);
  const keep = Math.min(previous.length, PEEK_BYTES - piece.length);
  const out = new Uint8Array(keep + piece.length);
  out.set(previous.subarray(previous.length - keep));
  out.set(piece, keep);
  return out;
}

/**
 * The line's parts with bytes [start, end) replaced by `replacement` (an answer's id rewritten): only the parts at
 * the edges are cut, nothing is copied.
 */
export function replaceBytes(line: LinePieces, start: number, end: number, replacement: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  let placed = false;
  for (const part of line.parts) {
    const from = offset;
    const to = offset + part.length;
    offset = to;
    if (to <= start || from >= end) {
      if (from >= end && !placed) {
        out.push(replacement);
        placed = true;
      }
      out.push(part);
      continue;
    }
    if (from < start) out.push(part.subarray(0, start - from));
    if (!placed) {
      out.push(replacement);
      placed = true;
    }
    if (to > end) out.push(part.subarray(end - from));
  }
  if (!placed) out.push(replacement);
  return out;
}

/** The first `n` bytes of a line, decoded (the start of a large answer, to find its id). */
export function headText(line: LinePieces, n: number): string {
  return decoder.decode(joinPieces(line.parts, n));
}

/** The last `n` bytes of a line, decoded. */
export function tailText(line: LinePieces, n: number): string {
  const out: Uint8Array[] = [];
  let need = n;
  for (let i = line.parts.length - 1; i >= 0 && need > 0; i--) {
    const part = line.parts[i]!;
    const take = part.subarray(Math.max(0, part.length - need));
    out.unshift(take);
    need -= take.length;
  }
  return decoder.decode(joinPieces(out, n));
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The part of a Bun socket an outbox writes to. */
export interface WritableSocket {
  write(data: string | Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/**
 * Writes lines to a socket in order. Bun's socket writes are unbuffered: what the kernel does not take now is kept
 * here and written on `drain()`. `queued` is what waits here — what the reader has not taken — so an owner can bound
 * it (a daemon cuts off a session whose proxy stopped reading) or stop reading its own input meanwhile.
 */
export class Outbox {
  private readonly queue: Uint8Array[] = [];
  queued = 0;
  closed = false;

  constructor(
    private readonly socket: WritableSocket,
    /** Called after every change of `queued` (growth and drain). */
    private readonly onQueued?: (queued: number) => void,
  ) {}

  private drainedWaiters: (() => void)[] = [];

  /** Calls `done` once nothing waits here (at once when nothing does). */
  whenDrained(done: () => void): void {
    if (this.queue.length === 0) done();
    else this.drainedWaiters.push(done);
  }

  /** One line: `text` and its newline. False when the socket is closed (nothing was written). */
  line(text: string): boolean {
    if (this.closed) return false;
    const data = `${text}\n`;
    if (this.queue.length === 0) {
      const written = this.socket.write(data);
      if (written < 0) return this.close();
      if (written >= Buffer.byteLength(data)) return true;
      this.enqueue(encoder.encode(data).subarray(written));
      return true;
    }
    this.enqueue(encoder.encode(data));
    return true;
  }

  /** One line given as bytes (its parts, in order); its newline is added. False when the socket is closed. */
  bytes(parts: Uint8Array[]): boolean {
    if (this.closed) return false;
    for (const part of [...parts, NEWLINE_BYTES]) {
      if (part.length === 0) continue;
      if (this.queue.length === 0) {
        const written = this.socket.write(part);
        if (written < 0) return this.close();
        if (written >= part.length) continue;
        this.enqueue(part.subarray(written));
      } else this.enqueue(part);
    }
    return true;
  }

  /** The socket can take more: write what waits, in order. */
  drain(): void {
    while (this.queue.length && !this.closed) {
      const part = this.queue[0]!;
      const written = this.socket.write(part);
      if (written < 0) {
        this.close();
        return;
      }
      this.queued -= Math.max(0, written);
      if (written < part.length) {
        this.queue[0] = part.subarray(written);
        this.onQueued?.(this.queued);
        return;
      }
      this.queue.shift();
    }
    this.onQueued?.(this.queued);
    if (!this.queue.length) for (const done of this.drainedWaiters.splice(0)) done();
  }

  private enqueue(part: Uint8Array): void {
    this.queue.push(part);
    this.queued += part.length;
    this.onQueued?.(this.queued);
  }

  /** Forgets what waits; later writes are refused. */
  close(): false {
    this.closed = true;
    this.queue.length = 0;
    this.queued = 0;
    return false;
  }
}

const NEWLINE_BYTES = new Uint8Array([NEWLINE]);
