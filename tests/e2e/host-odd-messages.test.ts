// Every request gets an answer or an error through a hosted server, whatever it or the server's answer holds: a
// request nested 50k deep, an answer line that is not UTF-8, an answer nested 100k deep. Before, each of these was
// never answered: the editor waited until its own timeout.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MSM, Sandbox, waitFor } from "../helpers/sandbox.ts";
import { EVERYTHING, NODE } from "../helpers/hosted.ts";

const ODD = join(import.meta.dir, "../fixtures/odd-answers-server.ts");

/** A raw stdio session through `dist/msm proxy`, as an editor writes it; `answers` collects every line by id. */
function rawSession(sandbox: Sandbox, target: string, project: string) {
  const proc = Bun.spawn([MSM, "proxy", "--target", target, "--project", project], { env: sandbox.env, stdin: "pipe", stdout: "pipe", stderr: "ignore" });
  sandbox.track(proc.pid);
  const answers = new Map<unknown, Record<string, unknown>>();
  void (async () => {
    let text = "";
    for await (const chunk of proc.stdout) {
      text += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message.id !== undefined) answers.set(message.id, message);
      }
    }
  })();
  const write = (line: string) => proc.stdin.write(`${line}\n`);
  write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }));
  write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  return { proc, answers, write };
}

describe("odd messages through a hosted server", () => {
  test(
    "a request nested 50k deep is answered with an error that says why; the session goes on",
    async () => {
      const sandbox = new Sandbox({ targets: { memory: { port: 0 }, everything: { command: NODE, args: [EVERYTHING, "stdio"] } } });
      try {
        const s = rawSession(sandbox, "everything", sandbox.project("p"));
        const depth = 50_000;
        s.write(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x","deep":${"[".repeat(depth)}${"]".repeat(depth)}}}}`);
        s.write(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { message: "after" } } }));
        await waitFor(() => s.answers.has(2) && s.answers.has(3), 30_000, "answers to both requests");
        expect(s.answers.get(2)!.error).toMatchObject({ message: expect.stringContaining("could not be passed to the server") });
        expect(JSON.stringify(s.answers.get(3)!.result)).toContain("Echo: after");
      } finally {
        await sandbox.cleanup();
      }
    },
    60_000,
  );

  test(
    "an answer that is not UTF-8 arrives decoded as an SDK client decodes it; one nested 100k deep becomes an error",
    async () => {
      const sandbox = new Sandbox({ targets: { memory: { port: 0 }, odd: { command: process.execPath, args: [ODD] } } });
      try {
        const s = rawSession(sandbox, "odd", sandbox.project("p"));
        s.write(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "bad-utf8", arguments: {} } }));
        s.write(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "deep", arguments: {} } }));
        await waitFor(() => s.answers.has(2) && s.answers.has(3), 30_000, "answers to both requests");
        expect(s.answers.get(2)!.result).toEqual({ content: [{ type: "text", text: "a\uFFFD\uFFFDb" }] });
        expect(s.answers.get(3)!.error).toMatchObject({ message: expect.stringContaining("could not be passed on") });
      } finally {
        await sandbox.cleanup();
      }
    },
    60_000,
  );
});
