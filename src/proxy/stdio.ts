// The proxy's stdin, stdout and stderr through Bun's own file sinks and streams. `process.stdin`, `process.stdout`
// and `process.stderr` each load Node's stream machinery on first use: ~2 MB of private memory per proxy (measured
// with Bun 1.4.5, see lib/platform/tty.ts), and a proxy runs once per editor session per server.

const out = Bun.stdout.writer();
const err = Bun.stderr.writer();

/** Settles when the last stdout write has been handed to the OS; the sink writes in order, so all have. */
let lastWrite: Promise<unknown> = Promise.resolve();
/** Set once stdout is closed (the editor went away): later writes are dropped rather than thrown. */
let stdoutBroken = false;

/** The editor's stdin, as byte chunks. */
export function stdinChunks(): AsyncIterable<Uint8Array> {
  return Bun.stdin.stream();
}

/** Writes one JSON-RPC line to the editor. A full pipe holds the bytes in the sink, in order, until it drains. */
export function writeStdout(line: string): void {
  if (stdoutBroken) return;
  try {
    out.write(line);
    lastWrite = Promise.resolve(out.flush()).catch(brokenStdout);
  } catch (error) {
    brokenStdout(error);
  }
}

function brokenStdout(error: unknown): void {
  stdoutBroken = true;
  writeStderr(`[proxy] stdout is closed, the editor is gone (${(error as Error)?.message ?? String(error)})\n`);
}

/**
 * Resolves once everything written to stdout has been handed to the OS (bounded). Exiting before that truncates
 * the last answers: a large answer to a pipe goes out in several writes.
 */
export function flushStdout(timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, timeoutMs).unref?.();
    void lastWrite.then(() => resolve());
  });
}

/** Diagnostics for the editor's log. Never throws: a closed stderr must not take the session down. */
export function writeStderr(text: string): void {
  try {
    err.write(text);
    void Promise.resolve(err.flush()).catch(() => {});
  } catch {}
}
