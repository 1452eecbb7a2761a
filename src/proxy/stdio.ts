// The proxy's stdin, stdout and stderr through Bun's own file sinks and streams. `process.stdin`, `process.stdout`
// and `process.stderr` each load Node's stream machinery on first use: ~2 MB of private memory per proxy (measured
// with Bun 1.4.5, see lib/platform/tty.ts), and a proxy runs once per editor session per server.

import { write as writeFd } from "node:fs";
import { msmEnv } from "../lib/env.ts";

const err = Bun.stderr.writer();
const encoder = new TextEncoder();

/**
 * stdout is written by our own queue on fd 1, not by a FileSink: `fs.write` calls back only once the kernel took
 * every byte (it waits on a worker thread while a slow editor leaves the pipe full), so the proxy knows exactly what
 * is still its to deliver. A FileSink's `flush()` was seen to settle while part of a 10 MiB answer was still in its
 * buffer, and exiting then cut the answer short (under load, 3 of ~8 runs).
 */
const waiting: (string | Uint8Array)[] = [];
let waitingBytes = 0;
let writing = false;
/** Set once stdout is closed (the editor went away): later writes are dropped rather than thrown. */
let stdoutBroken = false;
const drainedWaiters: (() => void)[] = [];

/** The editor's stdin, as byte chunks. */
export function stdinChunks(): AsyncIterable<Uint8Array> {
  return Bun.stdin.stream();
}

/** Writes one JSON-RPC line to the editor, in order; a full pipe keeps it here until the editor reads. */
export function writeStdout(line: string): void {
  if (stdoutBroken) return;
  if (!writing) lastProgress = Date.now();
  waiting.push(line);
  waitingBytes += line.length;
  if (waitingBytes > STDOUT_BACKLOG_CHARS / 2 && !stallTimer) watchStall();
  if (!writing) void pump();
}

/**
 * Writes one line given as bytes (a large answer as the daemon sent it, in pieces) and its newline, in order with the
 * rest: never decoded or joined into one string here.
 */
export function writeStdoutBytes(parts: Uint8Array[]): void {
  if (stdoutBroken) return;
  if (!writing) lastProgress = Date.now();
  for (const part of parts) {
    waiting.push(part);
    waitingBytes += part.byteLength;
  }
  waiting.push("\n");
  waitingBytes += 1;
  if (waitingBytes > STDOUT_BACKLOG_CHARS / 2 && !stallTimer) watchStall();
  if (!writing) void pump();
}

/**
 * What the proxy keeps for an editor that is not reading, bounded as a daemon bounds a session (64 MiB,
 * MSM_SESSION_QUEUE_BYTES): past half of it the proxy reads the daemon's streams no further until the editor takes
 * most of it, and if meanwhile nothing at all is taken for STDOUT_STALL_MS, the editor is not reading and the proxy
 * ends (as for a closed stdout). Measured before: 10 answers of 20 MB to an editor that stopped reading grew a proxy to
 * 251–428 MB, for as long as it lived.
 */
export const STDOUT_BACKLOG_CHARS = msmEnv().sessionQueueBytes ?? 64 * 1024 * 1024;
export const STDOUT_STALL_MS = 10_000;
const roomWaiters: (() => void)[] = [];
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** When the editor last took something (a write completed), or when writing started after a quiet time. */
let lastProgress = Date.now();

let stallTimer: Timer | undefined;

/** Over half the bound: checked each second until the editor catches up, or has taken nothing for STDOUT_STALL_MS. */
function watchStall(): void {
  stallTimer = setInterval(() => {
    if (waitingBytes <= STDOUT_BACKLOG_CHARS / 2 || stdoutBroken) {
      clearInterval(stallTimer);
      stallTimer = undefined;
    } else if (Date.now() - lastProgress > STDOUT_STALL_MS) {
      clearInterval(stallTimer);
      stallTimer = undefined;
      brokenStdout(new Error(`the editor has not read any of ${Math.round(waitingBytes / 1024 / 1024)} MB of answers for ${STDOUT_STALL_MS / 1000} s`));
    }
  }, 1_000);
  stallTimer.unref?.();
}

/** Characters written to stdout that the editor's pipe has not taken yet. */
export function stdoutBacklog(): number {
  return waitingBytes;
}

/** undefined while the backlog is within `limit`; else resolves once the editor took most of it. */
export function stdoutRoom(limit = STDOUT_BACKLOG_CHARS / 2): Promise<void> | undefined {
  if (waitingBytes <= limit || stdoutBroken) return undefined;
  return new Promise((resolve) => roomWaiters.push(resolve));
}

async function pump(): Promise<void> {
  writing = true;
  while (waiting.length && !stdoutBroken) {
    // Everything waiting goes in one write: many small messages cost one system call. Byte pieces (a large answer)
    // are gathered up to a MiB a write.
    const { bytes, size } = nextWrite();
    try {
      await writeAll(bytes);
    } catch (error) {
      brokenStdout(error);
    }
    waitingBytes -= size;
    lastProgress = Date.now();
    if (waitingBytes <= STDOUT_BACKLOG_CHARS / 4) for (const wake of roomWaiters.splice(0)) wake();
  }
  if (stdoutBroken) {
    waiting.length = 0;
    waitingBytes = 0;
  }
  writing = false;
  for (const wake of [...drainedWaiters.splice(0), ...roomWaiters.splice(0)]) wake();
}

/** What waits, as one write: the strings up to the next byte piece joined, or byte pieces up to WRITE_CHUNK_BYTES. */
function nextWrite(): { bytes: Uint8Array; size: number } {
  if (typeof waiting[0] === "string") {
    let end = 1;
    while (end < waiting.length && typeof waiting[end] === "string") end++;
    const text = end === 1 ? (waiting[0] as string) : (waiting.slice(0, end) as string[]).join("");
    waiting.splice(0, end);
    return { bytes: encoder.encode(text), size: text.length };
  }
  const pieces: Uint8Array[] = [];
  let size = 0;
  while (waiting.length && typeof waiting[0] !== "string" && (size === 0 || size + (waiting[0] as Uint8Array).byteLength <= WRITE_CHUNK_BYTES)) {
    const piece = waiting.shift() as Uint8Array;
    pieces.push(piece);
    size += piece.byteLength;
  }
  return { bytes: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), size };
}

/** Every byte into fd 1: a partial write continues where it stopped; a non-blocking pipe that is full is waited for. */
async function writeAll(bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    // At most a MiB a call: each one that completes shows the editor is reading (see STDOUT_STALL_MS).
    const written = await new Promise<number>((resolve, reject) =>
      writeFd(1, bytes, offset, Math.min(WRITE_CHUNK_BYTES, bytes.byteLength - offset), null, (error, n) => {
        if (!error) return resolve(n);
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") return resolve(0);
        reject(error);
      }),
    );
    offset += written;
    if (written > 0) lastProgress = Date.now();
    else await Bun.sleep(1);
  }
}

let onBroken: (() => void) | undefined;

/** What to do once stdout is gone (the proxy ends: an editor that reconnects may leave the old proxy's stdin open). */
export function whenStdoutBroken(handler: () => void): void {
  onBroken = handler;
}

function brokenStdout(error: unknown): void {
  if (stdoutBroken) return;
  stdoutBroken = true;
  writeStderr(`[proxy] stdout is closed, the editor is gone (${(error as Error)?.message ?? String(error)})\n`);
  onBroken?.();
}

/**
 * Resolves once everything written to stdout is in the kernel's pipe (bounded): exiting before that truncates the
 * last answers. What is in the pipe survives the exit.
 */
export function flushStdout(timeoutMs: number): Promise<void> {
  if (!writing && !waiting.length) return Promise.resolve();
  return new Promise((resolve) => {
    setTimeout(resolve, timeoutMs).unref?.();
    drainedWaiters.push(resolve);
  });
}

/** Diagnostics for the editor's log. Never throws: a closed stderr must not take the session down. */
export function writeStderr(text: string): void {
  try {
    err.write(text);
    void Promise.resolve(err.flush()).catch(() => {});
  } catch {}
}
