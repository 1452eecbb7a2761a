// The proxy's stdin, stdout and stderr through Bun's own file sinks and streams. `process.stdin`, `process.stdout`
// and `process.stderr` each load Node's stream machinery on first use: ~2 MB of private memory per proxy (measured
// with Bun 1.4.5, see lib/platform/tty.ts), and a proxy runs once per editor session per server.

import { write as writeFd } from "node:fs";

const err = Bun.stderr.writer();
const encoder = new TextEncoder();

/**
 * stdout is written by our own queue on fd 1, not by a FileSink: `fs.write` calls back only once the kernel took
 * every byte (it waits on a worker thread while a slow editor leaves the pipe full), so the proxy knows exactly what
 * is still its to deliver. A FileSink's `flush()` was seen to settle while part of a 10 MiB answer was still in its
 * buffer, and exiting then cut the answer short (under load, 3 of ~8 runs).
 */
const waiting: string[] = [];
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
  waiting.push(line);
  waitingBytes += line.length;
  if (!writing) void pump();
}

/** Characters written to stdout that the editor's pipe has not taken yet. */
export function stdoutBacklog(): number {
  return waitingBytes;
}

async function pump(): Promise<void> {
  writing = true;
  while (waiting.length && !stdoutBroken) {
    // Everything waiting goes in one write: many small messages cost one system call.
    const text = waiting.length === 1 ? waiting[0]! : waiting.join("");
    waiting.length = 0;
    const bytes = encoder.encode(text);
    try {
      await writeAll(bytes);
    } catch (error) {
      brokenStdout(error);
    }
    waitingBytes -= text.length;
  }
  if (stdoutBroken) {
    waiting.length = 0;
    waitingBytes = 0;
  }
  writing = false;
  for (const wake of drainedWaiters.splice(0)) wake();
}

/** Every byte into fd 1: a partial write continues where it stopped; a non-blocking pipe that is full is waited for. */
async function writeAll(bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const written = await new Promise<number>((resolve, reject) =>
      writeFd(1, bytes, offset, bytes.byteLength - offset, null, (error, n) => {
        if (!error) return resolve(n);
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") return resolve(0);
        reject(error);
      }),
    );
    offset += written;
    if (written === 0) await Bun.sleep(1);
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
