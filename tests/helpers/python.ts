import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Sandbox } from "./sandbox.ts";

const ROOT = resolve(import.meta.dir, "../..");
/** The venv tests/python/setup.sh makes (.ci/run runs it): pinned Python MCP servers, FastMCP and the SDK client. */
export const VENV = resolve(ROOT, ".python/venv");
export const PYTHON = resolve(VENV, "bin/python");
export const PYTHON_DIR = resolve(ROOT, "tests/python");

/** A console script the venv installed (mcp-server-git, …), by absolute path: no uvx, no network at test time. */
export function pythonBin(name: string): string {
  return resolve(VENV, "bin", name);
}

let made: Promise<string | undefined> | undefined;

/**
 * Makes sure the venv matches tests/python/requirements.txt (setup.sh is a no-op when it does, and installs it when
 * .ci/run did not). Resolves undefined when it is ready, else with the reason it could not be made — the one case in
 * which the Python tests skip, saying so.
 */
export function pythonVenv(): Promise<string | undefined> {
  made ??= (async () => {
    const setup = Bun.spawn(["bash", resolve(PYTHON_DIR, "setup.sh")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(setup.stdout).text(), new Response(setup.stderr).text(), setup.exited]);
    if (code === 0 && existsSync(PYTHON)) return undefined;
    return `tests/python/setup.sh failed (exit ${code}): ${(err || out).trim().split("\n").slice(-3).join(" / ")}`;
  })();
  return made;
}

/** One step of a scripted session: an MCP method and its parameters (see tests/python/driver.py). */
export interface Step {
  op: "tools/list" | "tools/call" | "prompts/list" | "prompts/get" | "resources/list" | "resources/templates/list" | "resources/read" | "ping";
  name?: string;
  arguments?: Record<string, unknown>;
  uri?: string;
  /** Ask for progress (puts a progress token on the request). */
  progress?: boolean;
}

export interface Recorded {
  from: "client" | "server";
  message: Record<string, unknown>;
}

/** What one scripted session saw. */
export interface Run {
  protocolVersion?: string;
  serverInfo?: unknown;
  capabilities?: unknown;
  instructions?: unknown;
  steps: unknown[];
  transcript: Recorded[];
  /** Set when the session itself failed (could not connect, the connection dropped). */
  failed?: string;
}

/**
 * The Python SDK client (tests/python/driver.py) running `steps` against a stdio server (`command`, spawned in `cwd`
 * with `env`) or a streamable HTTP one (`url`). `mode` is the SDK's: "auto" probes 2026-07-28 and falls back to the
 * initialize handshake, "legacy" only does the handshake. `flags`: the driver's --sampling, --elicitation, --roots URI….
 */
export async function runPythonClient(
  sandbox: Sandbox,
  steps: Step[],
  options: { cwd: string; env?: Record<string, string>; mode?: string; url?: string; command?: string[]; flags?: string[]; timeoutMs?: number },
): Promise<Run> {
  const args = [PYTHON, resolve(PYTHON_DIR, "driver.py"), JSON.stringify(steps), "--mode", options.mode ?? "auto", ...(options.flags ?? [])];
  if (options.url) args.push("--url", options.url);
  else args.push("--", ...options.command!);
  const child = Bun.spawn(args, { cwd: options.cwd, env: { ...sandbox.env, ...options.env }, stdout: "pipe", stderr: "pipe" });
  sandbox.track(child.pid);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  try {
    return JSON.parse(out.trim().split("\n").pop() ?? "") as Run;
  } catch {
    throw new Error(`the Python client exited ${code} without a transcript:\n${err.slice(-3000)}`);
  }
}
