import { createLogger, captureConsole } from "../lib/log.ts";
import { loadConfig, resolveTarget } from "../lib/config.ts";
import { ensureDaemon } from "../lib/ensure.ts";
import { loadToken } from "../lib/token.ts";
import { readLines } from "./lines.ts";
import { StreamableBridge, errorResponse, type JsonRpcMessage } from "./bridge.ts";
import { resolveProject } from "./project.ts";

/** How long answers still owed to the editor may take after stdin closes (MSM_EOF_GRACE_MS overrides). */
export const EOF_GRACE_MS = 5_000;

export interface ProxyOptions {
  target: string;
  project?: string;
  input?: AsyncIterable<Uint8Array | string>;
  /** stdout is the wire: this is the only function in msm that writes to it. */
  output?: (line: string) => void;
}

export async function runProxy(options: ProxyOptions): Promise<void> {
  const log = createLogger({ tag: `proxy ${options.target}` });
  captureConsole(log);
  const sink = Bun.stdout.writer();
  const output = options.output ?? ((line: string) => { sink.write(line); sink.flush(); });
  const write = (message: JsonRpcMessage) => output(JSON.stringify(message) + "\n");

  const target = resolveTarget(loadConfig(), options.target);
  const project = resolveProject(options.project);
  const endpoint = await ensureDaemon(target);
  const headers: Record<string, string> = { "mcp-project-path": project };
  if (target.kind === "builtin") headers.authorization = `Bearer ${loadToken()}`;
  const bridge = new StreamableBridge({ upstream: { url: endpoint.url, headers }, write, log });
  log.debug(`session for ${project} → ${endpoint.url}`);

  const stop = async (code: number) => {
    await bridge.close(0).catch(() => {});
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop(143));
  process.on("SIGHUP", () => void stop(129));

  for await (const line of readLines(options.input ?? Bun.stdin.stream())) {
    if (line.trim() === "") continue;
    let message: JsonRpcMessage;
    try {
      message = JSON.parse(line);
    } catch {
      write(errorResponse(null, -32700, "Parse error: the line is not valid JSON"));
      continue;
    }
    void bridge.send(message);
  }
  const grace = Number(process.env.MSM_EOF_GRACE_MS) || EOF_GRACE_MS;
  await bridge.close(grace);
  await sink.flush();
  process.exit(0);
}

function flushStdout(): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.writableNeedDrain) process.stdout.once("drain", () => resolve());
    else process.stdout.write("", () => resolve());
  });
}
