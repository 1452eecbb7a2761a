import type { Subprocess } from "bun";
import { answerIdAtEnds, MAX_MESSAGE_BYTES, readLines, recoverId } from "../lib/jsonrpc/lines.ts";
import { headText, joinLine, LineSplitter, tailText, type LinePieces } from "../lib/wire/lines.ts";
import { errorResponse, parseServerText, UPSTREAM_ERROR, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { spawnCommand } from "../lib/platform/index.ts";
import { groupHasLiveMember, signal } from "../lib/proc.ts";

/** Shutdown: stdin closed, then SIGTERM to the child's group after this long, then SIGKILL after CHILD_KILL_MS more. */
export const CHILD_STDIN_GRACE_MS = 500;
export const CHILD_KILL_MS = 1_000;
const lenient = new TextDecoder();
/** What ends a last line the child did not end itself. */
const NEWLINE = new Uint8Array([0x0a]);

/** stderr lines kept per child for `msm status` when it fails. */
const STDERR_KEEP = 20;

export interface ChildSpec {
  command: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Masks the secrets msm resolved for this child in what it writes to stderr before msm logs or shows a line. */
  redact?: (line: string) => string;
}

/**
 * An answer line at least this long is routed by its id alone (answerIdAtEnds), read from its ends: its bytes are
 * never decoded, parsed or joined on the thread every session shares — they go on to the session as they came.
 */
export const RAW_ANSWER_BYTES = 256 * 1024;

export interface ChildEvents {
  message: (message: JsonRpcMessage) => void;
  /** A large answer, as the server wrote it (its bytes), with where its id sits (see RAW_ANSWER_BYTES). */
  rawAnswer?: (line: LinePieces, span: { id: number; start: number; end: number }) => void;
  stderr: (line: string) => void;
  /** The process is gone (code null = killed by a signal). Called once. */
  exit: (code: number | null, signal: string | null) => void;
}

/**
 * One stdio MCP server process: its own process group (setsid), JSON-RPC lines on stdin/stdout, stderr lines
 * handed to the owner. The stdout reader never waits on anyone: every message is handed over synchronously and the
 * router only enqueues, so a slow session can never fill the child's stdout pipe and freeze it.
 */
export class StdioChild {
  private readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  readonly pid: number;
  readonly startedAt = Date.now();
  readonly stderrTail: string[] = [];
  exited = false;
  private readonly done: Promise<void>;

  constructor(spec: ChildSpec, events: ChildEvents) {
    // Throws (ENOENT, EACCES) when the command cannot be run; the owner reports it. Windows: a batch file (npx)
    // runs through cmd.exe with its arguments escaped for it.
    const { cmd, windowsVerbatimArguments } = spawnCommand(spec.command);
    const proc = Bun.spawn(cmd, {
      windowsVerbatimArguments,
      cwd: spec.cwd,
      env: spec.env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      // setsid: the child leads its own group, so stopping it reaches whatever it spawned (npx → node, uvx → python),
      // and a signal aimed at msm's group never reaches it.
      detached: true,
    });
    this.proc = proc;
    this.pid = proc.pid;
    const redact = spec.redact ?? ((line: string) => line);
    // Lines as bytes: a small one is decoded as an SDK client reads a server's stdout (invalid bytes become U+FFFD, so
    // what a server says reaches the session as it would reach its client directly) and parsed; a large answer is
    // routed by its id alone (RAW_ANSWER_BYTES).
    const splitter = new LineSplitter(
      {
        line: (line) => {
          const span = line.bytes >= RAW_ANSWER_BYTES && events.rawAnswer ? answerIdAtEnds(headText(line, 128), tailText(line, 128), line.bytes) : undefined;
          if (span) return events.rawAnswer!(line, span);
          const text = lenient.decode(joinLine(line));
          if (text.trim() === "") return;
          const messages = parseServerText(text);
          if (!messages) return events.stderr(`(not JSON-RPC on stdout) ${redact(text).slice(0, 200)}`);
          for (const message of messages) events.message(message as JsonRpcMessage);
        },
        tooLarge: (head, tail, bytes) => {
          // Bounded like the proxy's stdin: a line past the limit is dropped as it streams, never buffered whole;
          // the request it answered (its id read from the line's ends) gets an error instead of silence.
          events.stderr(`(a message over 64 MiB on stdout was dropped)`);
          const id = recoverId(lenient.decode(head), lenient.decode(tail));
          if (id !== null)
            events.message(
              errorResponse(id, UPSTREAM_ERROR, `msm: the server's answer was ${(bytes / 1024 / 1024).toFixed(1)} MiB, over the 64 MiB msm passes on`),
            );
        },
      },
      MAX_MESSAGE_BYTES,
    );
    const out = (async () => {
      try {
        for await (const chunk of proc.stdout) splitter.push(chunk);
        splitter.push(NEWLINE);
      } catch {}
    })();
    const err = (async () => {
      try {
        for await (const read of readLines(proc.stderr)) {
          const line = "text" in read ? redact(read.text) : `(a ${read.problem === "too-large" ? "line over 64 MiB" : "line that is not UTF-8"} was dropped)`;
          this.stderrTail.push(line);
          if (this.stderrTail.length > STDERR_KEEP) this.stderrTail.shift();
          events.stderr(line);
        }
      } catch {}
    })();
    this.done = proc.exited.then(async () => {
      // The last words on stdout/stderr (answers, the crash message) come before the exit is reported.
      await Promise.race([Promise.all([out, err]), Bun.sleep(200)]);
      this.exited = true;
      events.exit(proc.exitCode, proc.signalCode === null || proc.signalCode === undefined ? null : String(proc.signalCode));
    });
  }

  /**
   * Writes one message; false when the child's stdin is gone (it is exiting). Throws when the message cannot be
   * serialised (nested deeper than JSON.stringify goes): the caller answers its sender.
   */
  send(message: JsonRpcMessage): boolean {
    if (this.exited) return false;
    const line = JSON.stringify(message) + "\n";
    try {
      this.proc.stdin.write(line);
      // A child that exits while we write makes the flush fail (EPIPE) later, asynchronously: its exit is handled
      // where it is noticed, and the host must not die of it.
      const flushed = this.proc.stdin.flush();
      if (flushed instanceof Promise) flushed.catch(() => {});
      return true;
    } catch {
      return false;
    }
  }

  /**
   * stdin closed (a well-behaved stdio server exits on EOF), then SIGTERM to the whole group, then SIGKILL, each
   * with a deadline. Resolves when the child and every process of its group are gone.
   */
  async stop(): Promise<void> {
    try {
      void this.proc.stdin.end();
    } catch {}
    if (await this.waitGone(CHILD_STDIN_GRACE_MS)) return;
    signal(-this.pid, "SIGTERM");
    if (await this.waitGone(CHILD_KILL_MS)) return;
    signal(-this.pid, "SIGKILL");
    await this.waitGone(CHILD_KILL_MS);
  }

  /** SIGKILL to the group, now (the host itself is going away). */
  kill(): void {
    signal(-this.pid, "SIGKILL");
  }

  private async waitGone(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    await Promise.race([this.done, Bun.sleep(ms)]);
    // The leader may have exited while something it spawned lives on in the group.
    while (Date.now() < deadline && groupHasLiveMember(this.pid)) await Bun.sleep(20);
    return this.exited && !groupHasLiveMember(this.pid);
  }
}
