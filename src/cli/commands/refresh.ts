import { defineCommand } from "citty";
import { loadConfig, resolveTarget, targetNames } from "../../lib/config.ts";
import { type DiscoveryEntry, entriesOf, LIST_METHODS } from "../../lib/discovery-cache.ts";
import { MsmError } from "../../lib/errors.ts";
import { selfCommand } from "../../lib/spawn.ts";
import { resolveProject } from "../../proxy/index.ts";

/** A refresh session gives the server this long to start and answer everything (a cold `npx -y` downloads first). */
const SESSION_TIMEOUT_MS = 120_000;
/** A server that pages forever is cut off here. */
const MAX_PAGES = 100;

/** The client shape a refresh with no entry yet asks as: the newest revision every SDK speaks, no capabilities. */
const FRESH_INITIALIZE = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "msm-refresh", version: "1" } };

/** What the server's initialize says it has: which list methods it may be asked. */
function listsOffered(result: Record<string, unknown>): string[] {
  const capabilities = (result.capabilities ?? {}) as Record<string, unknown>;
  return LIST_METHODS.filter((method) =>
    method.startsWith("tools") ? capabilities.tools : method.startsWith("prompts") ? capabilities.prompts : capabilities.resources,
  );
}

/**
 * One session through `msm proxy` as an editor would run it, with MSM_DISCOVERY=live: the server is started (as
 * that session would start it), asked everything it lists, every page, and the proxy writes what it heard to the
 * cache — the same path a real session's answers take.
 */
async function refreshSession(target: string, project: string | undefined, initializeParams: Record<string, unknown>): Promise<string> {
  const args = [...selfCommand(), "proxy", "--target", target, ...(project ? ["--project", project] : [])];
  const child = Bun.spawn(args, { env: { ...process.env, MSM_DISCOVERY: "live" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  let nextId = 1;
  const ask = (method: string, params?: Record<string, unknown>) => {
    const id = nextId++;
    const answer = new Promise<Record<string, unknown>>((resolve) => waiting.set(id, resolve));
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) })}\n`);
    child.stdin.flush();
    return answer;
  };
  const reading = (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let at = buffer.indexOf("\n"); at >= 0; at = buffer.indexOf("\n")) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        try {
          const message = JSON.parse(line) as Record<string, unknown>;
          if (message.method === undefined && typeof message.id === "number") waiting.get(message.id)?.(message);
        } catch {}
      }
    }
  })();
  const timer = setTimeout(() => child.kill(), SESSION_TIMEOUT_MS);
  try {
    const init = await ask("initialize", initializeParams);
    if (!init.result) throw new Error(`initialize failed: ${JSON.stringify(init.error ?? "no answer")}`);
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
    const counts: string[] = [];
    for (const method of listsOffered(init.result as Record<string, unknown>)) {
      let cursor: string | undefined;
      let items = 0;
      for (let page = 0; page < MAX_PAGES; page++) {
        const answer = await ask(method, cursor ? { cursor } : undefined);
        const result = answer.result as Record<string, unknown> | undefined;
        if (!result) break;
        for (const value of Object.values(result)) if (Array.isArray(value)) items += value.length;
        cursor = typeof result.nextCursor === "string" && result.nextCursor ? result.nextCursor : undefined;
        if (!cursor) break;
      }
      counts.push(`${items} ${method.replace("/list", "").replace("resources/templates", "templates")}`);
    }
    return counts.join(", ") || "nothing listed";
  } finally {
    clearTimeout(timer);
    child.stdin.end();
    const stderr = new Response(child.stderr).text();
    await child.exited;
    await reading.catch(() => {});
    if (child.exitCode !== 0) process.stderr.write(await stderr);
  }
}

export default defineCommand({
  meta: {
    name: "refresh",
    description: "Rebuild the discovery cache: start each server once and record what it lists (every cached project and client)",
  },
  args: {
    name: { type: "positional", description: "Target to refresh (default: every target that can be cached)", required: false },
  },
  async run({ args }) {
    const config = loadConfig();
    const names = args.name ? [args.name] : targetNames(config).filter((n) => n !== "memory");
    if (args.name === "memory") throw new MsmError("USAGE", "The built-in memory server is not cached: it serves every project from one daemon.");
    let failed = 0;
    for (const name of names) {
      const target = resolveTarget(config, name);
      if (target.kind === "builtin") continue;
      const entries: Pick<DiscoveryEntry, "project" | "initializeParams">[] = entriesOf(name);
      // No entry yet: one for this folder's project, asked as a plain client (an editor's own shape fills its own).
      if (!entries.length) entries.push({ project: resolveProject(undefined), initializeParams: FRESH_INITIALIZE });
      for (const entry of entries) {
        const where = entry.project ?? "every project";
        try {
          const listed = await refreshSession(name, entry.project, entry.initializeParams);
          process.stdout.write(`${name} (${where}, ${String(entry.initializeParams.protocolVersion)}): ${listed}\n`);
        } catch (error) {
          failed++;
          process.stderr.write(`${name} (${where}): ${error instanceof Error ? error.message : String(error)} — see msm logs ${name}\n`);
        }
      }
    }
    if (failed) process.exitCode = 1;
  },
});
