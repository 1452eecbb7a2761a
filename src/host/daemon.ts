import { appendFileSync } from "node:fs";
import { loadConfig, resolveTarget } from "../lib/config.ts";
import { MsmError } from "../lib/errors.ts";
import { acquireLock } from "../lib/lock.ts";
import { createLogger } from "../lib/log.ts";
import { ensureHome, paths } from "../lib/paths.ts";
import { serveLoopback } from "../lib/serve.ts";
import { loadToken } from "../lib/token.ts";
import { VERSION } from "../lib/version.ts";
import { createHostApp } from "./app.ts";
import { ChildRecord } from "./leftovers.ts";

export interface HostDaemonOptions {
  target: string;
  /** Started by the supervisor: log to the file only (stdout/stderr are already the log file). */
  detached: boolean;
}

/**
 * `msm host --target NAME`: the daemon that runs a stdio MCP server's children and serves every session over
 * streamable HTTP on 127.0.0.1 (bearer token, Origin check), like the memory daemon, so proxies need nothing new.
 */
export async function runHostDaemon(options: HostDaemonOptions): Promise<void> {
  ensureHome();
  const target = resolveTarget(loadConfig(), options.target);
  if (target.kind !== "hosted") {
    throw new MsmError("USAGE", `targets.${options.target} is not a stdio server msm hosts (it has a "transport", or is built in).`);
  }
  const file = paths.log(target.name);
  const log = createLogger({ file, tag: `host ${target.name}`, stderr: !options.detached });
  const token = loadToken();
  const startedAt = new Date().toISOString();
  const info = { pid: process.pid, port: 0, transport: "streamable-http" as const, startedAt, version: VERSION, path: "/mcp", auth: "bearer" as const };
  const lock = acquireLock(target.name, info);
  if ("existing" in lock) {
    log.info(`already running (pid ${lock.existing.pid}, port ${lock.existing.port}); nothing to do`);
    return;
  }
  // The child's own words, one line each, tagged with the project it serves: `msm logs NAME` shows them.
  const stderr = (project: string | undefined, line: string) => {
    try {
      appendFileSync(file, `${new Date().toISOString()} [${project ?? "global"}] ${line}\n`);
    } catch {}
  };
  const record = new ChildRecord(target.name);
  const leftovers = record.reapLeftovers();
  if (leftovers.length) log.warn(`killed ${leftovers.length} child process group(s) a previous host left behind: ${leftovers.join(", ")}`);
  const host = createHostApp(target, token, { log, stderr, record });
  let server;
  try {
    server = serveLoopback(host.app.fetch, 0);
  } catch (error) {
    lock.release();
    throw error;
  }
  const port = server.port ?? 0;
  lock.update({ ...info, port });
  log.info(`hosting "${[target.command, ...target.args].join(" ")}" (share: ${target.share}) on http://127.0.0.1:${port}/mcp (pid ${process.pid}, version ${VERSION})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping children and shutting down`);
    lock.release();
    await host.close();
    server.stop(true);
    process.exit(0);
  };
  // Crash-proof: one child's broken pipe or one odd message must not take every session of every project down.
  process.on("unhandledRejection", (error) => log.warn(`unexpected: ${(error as Error)?.stack ?? String(error)}`));
  process.on("uncaughtException", (error) => log.warn(`unexpected: ${error.stack ?? String(error)}`));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  // Whatever else ends this process, its children must not outlive it as orphans.
  process.on("exit", () => host.kill());
}
