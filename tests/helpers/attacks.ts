// Tools for the security suite: a real second user, raw HTTP requests with forged headers, and tool errors as text.
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { MSM, Sandbox, requireBinary, type Session } from "./sandbox.ts";

/** `nobody`: the hostile second user (a real uid with no rights of its own). */
export const OTHER_UID = 65534;
/** An unprivileged victim for tests that need permissions to bite (root ignores file modes). No passwd entry needed. */
export const VICTIM_UID = 40001;

export const isRoot = process.getuid?.() === 0;

/** chown to `uid` (default the hostile user); the files of a path the test built as root. */
export function chownTo(path: string, uid = OTHER_UID, recursive = false): void {
  chownSync(path, uid, uid);
  if (recursive && lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTo(join(path, entry), uid, true);
}

/** The text of a tool call's error; throws if the call succeeded. */
export async function toolError(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  if (!result.isError) throw new Error(`tool ${name} succeeded but should have failed: ${JSON.stringify(result.structuredContent)}`);
  return (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("\n");
}

/** Every path under `dir` (relative), so a test can say "nothing appeared here". */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const entry of readdirSync(d)) {
      const rel = prefix ? `${prefix}/${entry}` : entry;
      out.push(rel);
      const full = join(d, entry);
      if (lstatSync(full).isDirectory()) walk(full, rel);
    }
  };
  walk(dir, "");
  return out.sort();
}

/**
 * One HTTP/1.1 request over a raw socket, so the `Host` header is exactly what the test says (fetch fills it in
 * from the URL). Returns the status and body.
 */
export function rawRequest(port: number, lines: string[], body = ""): Promise<{ status: number; body: string; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let raw = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => (raw += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ status, body: raw.slice(raw.indexOf("\r\n\r\n") + 4), raw });
    });
    const head = [...lines, "Connection: close", `Content-Length: ${Buffer.byteLength(body)}`, "", ""].join("\r\n");
    socket.write(head + body);
  });
}

/**
 * A sandbox an unprivileged user can live in: its root sits in a world-traversable temp folder (the suite's own
 * MSM_TEST_ROOT is 0700 root) and everything in it belongs to `uid`.
 */
export function sandboxFor(uid: number, config?: object): { sandbox: Sandbox; cleanup: () => Promise<void> } {
  const parent = mkdtempSync("/tmp/msm-sec-");
  chmodSync(parent, 0o755);
  const saved = process.env.MSM_TEST_ROOT;
  process.env.MSM_TEST_ROOT = parent;
  let sandbox: Sandbox;
  try {
    sandbox = config ? new Sandbox(config) : new Sandbox();
  } finally {
    process.env.MSM_TEST_ROOT = saved;
  }
  chmodSync(sandbox.root, 0o755);
  chownTo(sandbox.root, uid, true);
  return {
    sandbox,
    cleanup: async () => {
      await sandbox.cleanup();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** `setpriv` prefix that runs a command as `uid` with no supplementary groups (root drops to a plain user). */
export function asUser(uid: number): string[] {
  return ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];
}

/** Like sandbox.ts's openSession, but the proxy (and so the daemons it starts) runs as `uid`. */
export async function openSessionAs(sandbox: Sandbox, uid: number, cwd: string, args: string[] = []): Promise<Session> {
  requireBinary();
  const [command, ...prefix] = asUser(uid);
  const transport = new StdioClientTransport({
    command: command!,
    args: [...prefix, MSM, "proxy", "--target", "memory", ...args],
    env: sandbox.env,
    cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new McpClient({ name: "msm-security-test", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid!;
  sandbox.track(pid);
  return { client, transport, pid, stderr: () => stderr, close: () => client.close().catch(() => {}) };
}

/**
 * A copy of dist/msm that another user can run: the suite's own tree may sit in a folder only root can enter (a
 * binary inside a 0700 folder cannot be executed by anyone else). `remove()` deletes it.
 */
export function binaryForOthers(): { path: string; remove: () => void } {
  requireBinary();
  const dir = mkdtempSync("/tmp/msm-bin-");
  chmodSync(dir, 0o755);
  const path = join(dir, "msm");
  copyFileSync(MSM, path);
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
