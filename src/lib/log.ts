import { appendFileSync, closeSync, copyFileSync, openSync, readSync, statSync, truncateSync, writeSync } from "node:fs";
// consola/core, not "consola": the full entry pulls in fancy reporters and terminal-width tables we never use, and
// costs the proxy (which exists N×M times) about 12 MB of resident memory.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { format } from "node:util";
import { tightenMode } from "./trust.ts";

/** A log file past this size is rotated to `<file>.1` (one generation kept): at open, and by the supervisor. */
export const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

export interface LoggerOptions {
  /** Also append every line to this file (daemons); stderr only when absent. */
  file?: string;
  /** Tag printed before each message, e.g. the target name. */
  tag?: string;
  /** Print to stderr as well as the file (foreground runs). Default true. */
  stderr?: boolean;
}

/**
 * consola with *both* streams on stderr: consola writes info/log to stdout by default, and in proxy mode stdout is
 * the JSON-RPC wire. Daemons additionally append plain lines to their log file.
 */
export function createLogger(options: LoggerOptions = {}): ConsolaInstance {
  const reporters = [];
  if (options.stderr !== false) {
    reporters.push({
      log: (entry: LogObject) => {
        writeStderr(`${prefix(entry, options.tag)}${format(...entry.args)}\n`);
      },
    });
  }
  if (options.file) {
    const file = options.file;
    rotateInPlace(file);
    keepPrivate(file);
    reporters.push({
      log: (entry: LogObject) => {
        try {
          appendFileSync(file, `${entry.date.toISOString()} ${prefix(entry, options.tag)}${format(...entry.args)}\n`, { mode: LOG_MODE });
        } catch {
          // A log line is never worth crashing a daemon for (disk full, directory removed).
        }
      },
    });
  }
  return createConsola({
    level: process.env.MSM_DEBUG ? 4 : 3,
    reporters,
  });
}

/** Logs name projects, paths and what sessions did: the user's alone to read. */
export const LOG_MODE = 0o600;

/** Tightens a log (and its rotated generation) written by an older msm with the default 0644. */
function keepPrivate(file: string): void {
  for (const f of [file, `${file}.1`]) {
    try {
      tightenMode(f, LOG_MODE);
    } catch {}
  }
}

/**
 * Straight to fd 2: node's process.stderr stream machinery alone adds ~9 MB RSS to a Bun process, and stderr
 * writes here are rare, small and must never block the event loop for long.
 */
function writeStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {}
}

function prefix(entry: LogObject, tag?: string): string {
  const level = entry.type === "log" || entry.type === "info" ? "" : `${entry.type}: `;
  return `${tag ? `[${tag}] ` : ""}${level}`;
}

/**
 * Rotation for a log a running daemon may hold open (its stdout and stderr go there): copy to `<file>.1`, then
 * truncate in place. Renaming would leave the daemon writing into `.1` forever; the descriptor is O_APPEND, so after the
 * truncate its next write lands at the new end. A line written between copy and truncate can be lost — acceptable
 * for logs, and the price of rotating without the daemon's help. Returns true when it rotated.
 */
export function rotateInPlace(file: string, limit = LOG_ROTATE_BYTES): boolean {
  try {
    if (statSync(file).size <= limit) return false;
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    return true;
  } catch {
    return false;
  }
}

/** How much of a log's end `tailLines` reads: plenty for a few hundred lines, bounded for a huge file. */
const TAIL_READ_BYTES = 256 * 1024;

/** The last `count` lines of a text file ([] when missing). */
export function tailLines(file: string, count: number): string[] {
  if (count <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return [];
  }
  try {
    const size = statSync(file).size;
    const length = Math.min(size, TAIL_READ_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    // A read that started mid-file begins with a partial line.
    if (length < size) lines.shift();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}

/**
 * Sends every console.* call to the logger, so a dependency's stray console.log cannot write to stdout
 * (the JSON-RPC wire in proxy mode).
 */
export function captureConsole(logger: ConsolaInstance): void {
  console.log = (...args: unknown[]) => logger.log(format(...args));
  console.info = (...args: unknown[]) => logger.info(format(...args));
  console.debug = (...args: unknown[]) => logger.debug(format(...args));
  console.warn = (...args: unknown[]) => logger.warn(format(...args));
  console.error = (...args: unknown[]) => logger.error(format(...args));
}
