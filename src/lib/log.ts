import { appendFileSync, renameSync, statSync, writeSync } from "node:fs";
// consola/core, not "consola": the full entry pulls in fancy reporters and terminal-width tables we never use, and
// costs the proxy (which exists N×M times) about 12 MB of resident memory.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { format } from "node:util";

/** A log file past this size is moved to `<file>.1` when a process opens it (one generation kept). */
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
    rotateIfLarge(file);
    reporters.push({
      log: (entry: LogObject) => {
        try {
          appendFileSync(file, `${entry.date.toISOString()} ${prefix(entry, options.tag)}${format(...entry.args)}\n`);
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

export function rotateIfLarge(file: string, limit = LOG_ROTATE_BYTES): void {
  try {
    if (statSync(file).size > limit) renameSync(file, `${file}.1`);
  } catch {}
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
