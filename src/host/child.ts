import type { Subprocess } from "bun";
import { answerIdSpan, readLines } from "../lib/jsonrpc/lines.ts";
import { errorResponse, parseServerText, UPSTREAM_ERROR, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import { spawnCommand } from "../lib/platform/index.ts";
import { groupHasLiveMember, signal } from "../lib/proc.ts";

/** Shutdown: stdin closed, then SIGTERM to the child's group after this long, then SIGKILL after CHILD_KILL_MS more. */
export const CHILD_STDIN_GRACE_MS = 500;
export const CHILD_KILL_MS = 1_000;
/** stderr lines kept per child for `msm status` when it fails. */
const STDERR_KEEP = 20;

export interface ChildSpec {
  command: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Masks the secrets msm resolved for this child in what it writes to stderr before msm logs or shows a line. */
  redact?: (line: string) => string;
}

/** An answer line at least this long is routed by its id alone (answerIdSpan), not parsed and written again. */
export const RAW_ANSWER_CHARS = 256 * 1024;

export interface ChildEvents {
  message: (message: JsonRpcMessage) => void;
  /** A large answer, as the server wrote it, with where its id sits (see RAW_ANSWER_CHARS). */
  rawAnswer?: (text: string, span: { id: number; start: number; end: number }) => void;
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
    const out = (async () => {
      try {
        for await (const read of readLines(proc.stdout, undefined, { lossy: true })) {
          if (!("text" in read)) {
            // Bounded like the proxy's stdin: a line past the limit is dropped as it streams, never buffered whole;
            // the request it answered (its id read from the line's ends) gets an error instead of silence.
            events.stderr(`(a message over 64 MiB on stdout was dropped)`);
            if (read.id !== null)
              events.message(
                errorResponse(
                  read.id,
                  UPSTREAM_ERROR,
                  `msm: the server's answer was ${(read.bytes / 1024 / 1024).toFixed(1)} MiB, over the 64 MiB msm passes on`,
                ),
              );
            continue;
          }
          const line = read.text;
          if (line.trim() === "") continue;
          const span = line.length >= RAW_ANSWER_CHARS && events.rawAnswer ? answerIdSpan(line) : undefined;
          if (span) {
            events.rawAnswer!(line, span);
            continue;
          }
          const messages = parseServerText(line);
          if (!messages) {
            events.stderr(`(not JSON-RPC on stdout) ${redact(line).slice(0, 200)}`);
            continue;
          }
          for (const message of messages) events.message(message as JsonRpcMessage);
        }
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
