// `msm stop` says what happened. A daemon that outlives SIGTERM and SIGKILL (a signal that cannot be sent: another
// user's process here, a failed taskkill on Windows) used to be reported "stopped memory" while it ran on.
import { describe, expect, test } from "bun:test";
import { chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandLine, startTicks } from "../../src/lib/platform/index.ts";
import { stoppedLine } from "../../src/cli/commands/stop.ts";
import { MSM, alive, kill, waitFor } from "../helpers/sandbox.ts";
import { VICTIM_UID, asUser, isRoot, sandboxFor } from "../helpers/attacks.ts";

describe("msm stop reports what actually happened", () => {
  test("the line for each outcome", () => {
    expect(stoppedLine({ name: "memory", stopped: true, sessions: 0 })).toBe("stopped memory");
    expect(stoppedLine({ name: "memory", stopped: false, sessions: null })).toBe("memory was not running");
    expect(stoppedLine({ name: "memory", stopped: false, sessions: 2, survived: 4242 })).toMatch(
      /^memory is still running: pid 4242 did not exit when stopped \(end it with: (kill -9|taskkill \/F \/T \/PID) 4242\)$/,
    );
  });

  // Dropping to another uid needs root: the user running `msm stop` cannot signal root's process.
  test.skipIf(!isRoot)(
    "a daemon the signals cannot end is reported running, its lock kept, exit code 1",
    async () => {
      const { sandbox, cleanup } = sandboxFor(VICTIM_UID);
      // Root's process, recorded in the victim's memory.lock as msm records a daemon it started.
      const daemon = Bun.spawn(["sleep", "120"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
      try {
        // Until the child has exec'd, its command line is still this test's: a busy machine showed the lock naming it.
        await waitFor(() => commandLine(daemon.pid)?.includes("sleep"), 10_000, "sleep to have started");
        const lock = join(sandbox.msmHome, "memory.lock");
        writeFileSync(
          lock,
          JSON.stringify({
            pid: daemon.pid,
            port: 1,
            transport: "http",
            startedAt: new Date().toISOString(),
            version: "0.1.0",
            auth: "bearer",
            pidStart: startTicks(daemon.pid),
            command: commandLine(daemon.pid),
            group: true,
          }),
        );
        chownSync(lock, VICTIM_UID, VICTIM_UID);
        const child = Bun.spawn([...asUser(VICTIM_UID), MSM, "stop", "memory"], { env: sandbox.env, stdout: "pipe", stderr: "pipe" });
        const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
        expect({ code, stdout, stderr }).toEqual({
          code: 1,
          stdout: `memory is still running: pid ${daemon.pid} did not exit when stopped (end it with: kill -9 ${daemon.pid})\n`,
          stderr: "",
        });
        expect(alive(daemon.pid)).toBe(true);
        expect(sandbox.lock("memory")?.pid).toBe(daemon.pid);
      } finally {
        kill(daemon.pid, "SIGKILL");
        await cleanup();
      }
    },
    60_000,
  );
});
