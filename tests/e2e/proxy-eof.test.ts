// An editor (or a script) that writes its request and closes stdin at once still gets the whole answer, however large
// and however slowly it reads: the proxy exits only after stdout took every byte. Measured before: a 10 MiB answer
// arrived ~1.2 MB short under load in 3 of ~8 runs (the exit waited on a FileSink flush that settled early).
import { describe, expect, test } from "bun:test";
import { bigAnswerServer, openAndCall } from "../helpers/big-answers.ts";
import { MSM, Sandbox } from "../helpers/sandbox.ts";

const ANSWER_BYTES = 12 * 1024 * 1024;

/** Two busy loops, one per core, for as long as the test runs: CI's machine is not quiet. */
function busyLoops(): { stop(): void } {
  const loops = [0, 1].map(() => Bun.spawn([process.execPath, "-e", "for(;;){}"], { stdout: "ignore", stderr: "ignore" }));
  return {
    stop: () => {
      for (const p of loops) p.kill("SIGKILL");
    },
  };
}

describe("proxy at stdin EOF", () => {
  test("a 12 MiB answer to a request sent just before stdin closed arrives whole to a slow reader, on a busy machine", async () => {
    const sandbox = new Sandbox();
    // Two UTF-8 bytes a character: a cut would also show as broken text.
    const server = bigAnswerServer("é".repeat(ANSWER_BYTES / 2));
    const load = busyLoops();
    try {
      for (let run = 0; run < 3; run++) {
        const proxy = Bun.spawn([MSM, "proxy", "--url", `http://127.0.0.1:${server.port}/mcp`], {
          env: sandbox.env,
          stdin: "pipe",
          stdout: "pipe",
          stderr: "ignore",
        });
        sandbox.track(proxy.pid);
        openAndCall(proxy, 2, 2);
        await proxy.stdin.end();
        // The editor reads a chunk, then is busy for a while: the pipe stays full most of the time.
        const reader = proxy.stdout.getReader();
        const chunks: Uint8Array[] = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          chunks.push(value);
          await Bun.sleep(3);
        }
        expect(await proxy.exited).toBe(0);
        const lines = Buffer.concat(chunks).toString("utf8").trimEnd().split("\n");
        expect(lines).toHaveLength(2);
        const answer = JSON.parse(lines[1]!) as { id: number; result: { content: { text: string }[] } };
        expect(answer.id).toBe(2);
        expect(answer.result.content[0]!.text.length).toBe(ANSWER_BYTES / 2);
      }
    } finally {
      load.stop();
      server.stop();
      await sandbox.cleanup();
    }
  }, 120_000);
});
