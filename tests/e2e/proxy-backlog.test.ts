// An editor that stops reading stdout must not hold its proxy's memory without bound: past half the session bound
// (64 MiB) unread the proxy reads no further, and with nothing taken for 10 s the editor is not reading at all and
// the proxy ends, as for a closed stdout. Measured before: 10 answers of 20 MB grew a proxy to 251–428 MB, for as
// long as it lived.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { constants, openSync } from "node:fs";
import { join } from "node:path";
import { bigAnswerServer, openAndCall } from "../helpers/big-answers.ts";
import { rssBytes } from "../../src/lib/proc.ts";
import { MSM, Sandbox, waitFor } from "../helpers/sandbox.ts";

describe("proxy: an editor that stops reading", () => {
  test("10 answers of 20 MB never read: once nothing has been taken for 10 s the proxy ends, saying why", async () => {
    await using sandbox = new Sandbox();
    const server = bigAnswerServer("x".repeat(20 * 1024 * 1024));
    try {
      // stdout is a pipe nobody reads (a FIFO opened read-write and left alone): Bun's own pipe would buffer for us.
      const fifo = join(sandbox.root, "stdout.fifo");
      execFileSync("mkfifo", [fifo]);
      const stdout = openSync(fifo, constants.O_RDWR);
      const proxy = Bun.spawn([MSM, "proxy", "--url", `http://127.0.0.1:${server.port}/mcp`], { env: sandbox.env, stdin: "pipe", stdout, stderr: "pipe" });
      sandbox.track(proxy.pid);
      openAndCall(proxy, 2, 11);
      await proxy.stdin.flush();
      await waitFor(() => server.answered() === 10, 60_000, "the server answered every call");
      const stalledAt = Date.now();
      const held = (rssBytes(proxy.pid) ?? 0) / 1024 / 1024;
      // Nothing is taken: within the stall time (and a margin for a busy machine) the proxy has ended.
      expect(await Promise.race([proxy.exited.then(() => true), Bun.sleep(40_000).then(() => false)])).toBe(true);
      console.log(`proxy RSS with 10 × 20 MB answers unread: ${held.toFixed(0)} MB; it ended ${((Date.now() - stalledAt) / 1000).toFixed(1)} s after`);
      expect(await new Response(proxy.stderr).text()).toContain("the editor has not read any of");
    } finally {
      server.stop();
    }
  }, 120_000);
});
