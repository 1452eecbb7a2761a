import { appendFileSync } from "node:fs";
import { loadConfig, resolveTarget } from "../lib/config.ts";
import { takeDaemonTarget } from "../lib/contracts/daemon-argv.ts";
import { MsmError } from "../lib/errors.ts";
import { runDaemon } from "../lib/http/daemon.ts";
import { createLogger } from "../lib/log.ts";
import { ensureHome, paths } from "../lib/paths.ts";
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
  // As the supervisor has it in force when it started us; by hand, as config.json says.
  const target = takeDaemonTarget(options.target) ?? resolveTarget(loadConfig(), options.target);
  if (target.kind !== "hosted") {
    throw new MsmError("USAGE", `targets.${options.target} is not a stdio server msm hosts (it has a "transport", or is built in).`);
  }
  const file = paths.log(target.name);
  const log = createLogger({ file, tag: `host ${target.name}`, stderr: !options.detached });
  // The child's own words, one line each, tagged with the project it serves: `msm logs NAME` shows them.
  const stderr = (project: string | undefined, line: string) => {
    try {
      appendFileSync(file, `${new Date().toISOString()} [${project ?? "global"}] ${line}\n`);
    } catch {}
  };
  const hosting = await runDaemon({
    kind: "host",
    name: target.name,
    log,
    port: 0,
    start: () => {
      const record = new ChildRecord(target.name);
      const leftovers = record.reapLeftovers();
      if (leftovers.length) log.warn(`killed ${leftovers.length} child process group(s) a previous host left behind: ${leftovers.join(", ")}`);
      const host = createHostApp(target, loadToken(), { log, stderr, record });
      return {
        fetch: host.app.fetch,
        listening: (port) =>
          `hosting "${[target.command, ...target.args].join(" ")}" (share: ${target.share}) on http://127.0.0.1:${port}/mcp (pid ${process.pid}, version ${VERSION})`,
        stopping: "stopping children and shutting down",
        close: host.close,
        kill: host.kill,
        openWire: host.openWire,
        sessionsStopping: "the host is stopping",
      };
    },
  });
  if (!hosting) return;
  // Crash-proof: one child's broken pipe or one odd message must not take every session of every project down.
  process.on("unhandledRejection", (error) => log.warn(`unexpected: ${(error as Error)?.stack ?? String(error)}`));
  process.on("uncaughtException", (error) => log.warn(`unexpected: ${error.stack ?? String(error)}`));
  // Whatever else ends this process, its children must not outlive it as orphans.
  process.on("exit", () => hosting.kill());
}
