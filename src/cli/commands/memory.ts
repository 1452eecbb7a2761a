import { defineCommand } from "citty";
import { MsmError } from "../../lib/errors.ts";

export default defineCommand({
  meta: {
    name: "memory",
    description: "Run the built-in knowledge-graph memory daemon (MCP over streamable HTTP on 127.0.0.1)",
  },
  args: {
    port: { type: "string", description: "Preferred port (default: targets.memory.port in config.json, else 3100; a busy port falls back to a free one)" },
    detached: { type: "boolean", description: "Started by msm itself: log to the log file only", default: false },
  },
  async run({ args }) {
    const { loadConfig, resolveTarget } = await import("../../lib/config.ts");
    const { runMemoryDaemon } = await import("../../memory/daemon.ts");
    const port = args.port !== undefined ? parsePort(args.port) : resolveTarget(loadConfig(), "memory").port;
    await runMemoryDaemon({ port, detached: args.detached });
  },
});

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MsmError("USAGE", `--port must be a whole number from 0 to 65535, not "${text}"`);
  }
  return port;
}
