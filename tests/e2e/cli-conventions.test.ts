// The command line behaves like gh or docker (issue 9, item 11): checked flags with suggestions, exit 2 for usage
// and 1 for failures, quiet on a closed pipe, no colour off a terminal, 80 columns, a relative MSM_HOME, and a proxy
// started by hand that says what it waits for. Every command's flag check and --help is checked in-process by
// tests/unit/cli/usage.test.ts, walking the real command tree; here the binary runs a few, as a person types them.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { MSM, Sandbox, alive, call, msm, openSession, requireBinary, waitFor } from "../helpers/sandbox.ts";

const SLOW = 90_000;

/** stdout, or stderr for the proxy (its stdout is the JSON-RPC wire). */
const shown = (path: string[], r: { stdout: string; stderr: string }) => (path[0] === "proxy" ? r.stderr : r.stdout);

/** A top-level command, a nested one, a daemon command (its own error handling) and one that writes editor files. */
const SAMPLE = [["status"], ["memory", "export"], ["proxy"], ["install"]];

describe("the command line behaves like gh or docker (issue 9, item 11)", () => {
  test(
    "an unknown flag is an error: exit 2, a suggestion, nothing run",
    async () => {
      requireBinary();
      await using sandbox = new Sandbox();
      for (const path of SAMPLE) {
        const result = await msm(sandbox, [...path, "--no-such-flag"]);
        expect({ path, code: result.code }).toEqual({ path, code: 2 });
        expect(result.stderr).toContain(`unknown flag --no-such-flag for "msm ${path.join(" ")}"`);
        expect(result.stderr).toContain(`Run "msm ${path.join(" ")} --help" for usage.`);
        expect(result.stdout).toBe("");
      }
      const typo = await msm(sandbox, ["status", "--jsn"]);
      expect(typo.stderr).toContain("Did you mean --json?");
      const command = await msm(sandbox, ["stauts"]);
      expect(command.code).toBe(2);
      expect(command.stderr).toContain('unknown command "stauts" for "msm". Did you mean status?');
      // Nothing was started by any of it.
      expect(sandbox.lock("supervisor")).toBeUndefined();
    },
    SLOW,
  );

  test(
    "usage errors exit 2, runtime failures 1; msm stop nope is an error",
    async () => {
      await using sandbox = new Sandbox();
      for (const args of [["logs"], ["stop"], ["status", "memory", "extra"], ["status", "--project", "/tmp"], ["logs", "memory", "-n"], ["proxy"]]) {
        const result = await msm(sandbox, args);
        expect({ args, code: result.code }).toEqual({ args, code: 2 });
        expect(result.stderr).toContain("--help");
      }
      const nope = await msm(sandbox, ["stop", "nope"]);
      expect(nope.code).toBe(1);
      expect(nope.stderr).toContain('Unknown target "nope"');
      const logs = await msm(sandbox, ["logs", "nope"]);
      expect(logs.code).toBe(1);
      const status = await msm(sandbox, ["status", "nope"]);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain('Unknown target "nope"');
    },
    SLOW,
  );

  test(
    "--help fits 80 columns, without colour codes off a terminal or with NO_COLOR; the proxy's goes to stderr",
    async () => {
      await using sandbox = new Sandbox();
      for (const path of [[], ...SAMPLE]) {
        const plain = await msm(sandbox, [...path, "--help"]);
        expect({ path, code: plain.code }).toEqual({ path, code: 0 });
        const text = shown(path, plain);
        expect(text).toContain("Usage: msm");
        expect(text).not.toContain("\x1b[");
        for (const line of text.split("\n")) expect({ path, line, width: line.length <= 80 }).toEqual({ path, line, width: true });
        if (path[0] === "proxy") expect(plain.stdout).toBe("");
      }
      // The version line of a real build is in the root's help; colour as the environment asks.
      const forced = await msm(sandbox, ["--help"], { FORCE_COLOR: "1" });
      expect(forced.stdout).toContain("\x1b[");
      for (const line of forced.stdout.split("\n")) expect(line.replace(/\x1b\[[0-9;]*m/g, "").length).toBeLessThanOrEqual(80);
      const noColor = await msm(sandbox, ["--help"], { FORCE_COLOR: "1", NO_COLOR: "1" });
      expect(noColor.stdout).not.toContain("\x1b[");
    },
    SLOW,
  );

  test(
    "msm memory export | head -1 (and msm logs | head -1) end quietly",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      // Far more than a pipe holds, so the export is still writing when head goes away.
      const file = join(sandbox.root, "memory.jsonl");
      const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ type: "entity", name: `e${i}`, entityType: "t", observations: ["o".repeat(200)] }));
      writeFileSync(file, lines.join("\n") + "\n");
      expect((await msm(sandbox, ["memory", "import", file, "--project", project])).code).toBe(0);
      mkdirSync(join(sandbox.msmHome, "logs"), { recursive: true });
      writeFileSync(join(sandbox.msmHome, "logs", "memory.log"), Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(60)}`).join("\n") + "\n");
      const headOne = async (command: string) => {
        const piped = Bun.spawn(["bash", "-c", `set -o pipefail; ${command} | head -1`], { env: sandbox.env, stdout: "pipe", stderr: "pipe" });
        const [out, err, code] = await Promise.all([new Response(piped.stdout).text(), new Response(piped.stderr).text(), piped.exited]);
        return { out, err, code };
      };
      for (let round = 0; round < 3; round++) {
        const exported = await headOne(`"${MSM}" memory export --project "${project}"`);
        expect(JSON.parse(exported.out).type).toBe("entity");
        expect(exported).toMatchObject({ err: "", code: 0 });
        const logs = await headOne(`"${MSM}" logs memory -n 20000`);
        expect(logs).toMatchObject({ err: "", code: 0 });
        expect(logs.out).toMatch(/^line \d+ x+\n$/);
      }
    },
    SLOW,
  );

  test(
    "a relative MSM_HOME is made absolute, for msm and for the daemons it starts",
    async () => {
      await using sandbox = new Sandbox();
      const project = sandbox.project("p");
      const status = Bun.spawnSync([MSM, "status", "--json"], {
        env: { ...sandbox.env, MSM_HOME: relative(sandbox.root, sandbox.msmHome) },
        cwd: sandbox.root,
      });
      expect(JSON.parse(status.stdout.toString()).home).toBe(sandbox.msmHome);
      const session = await openSession(sandbox, project, { env: { MSM_HOME: relative(project, sandbox.msmHome) } });
      await call(session.client, "read_graph");
      expect(alive(sandbox.lock("supervisor")!.pid)).toBe(true);
      expect(alive(sandbox.lock("memory")!.pid)).toBe(true);
      await session.close();
    },
    SLOW,
  );

  test(
    "msm proxy started by hand in a terminal says on stderr what it is waiting for",
    async () => {
      requireBinary();
      await using sandbox = new Sandbox();
      let screen = "";
      const proxy = Bun.spawn([MSM, "proxy", "--target", "memory"], {
        env: sandbox.env,
        cwd: sandbox.project("p"),
        terminal: {
          cols: 80,
          rows: 24,
          data: (_terminal, data) => {
            screen += new TextDecoder().decode(data);
          },
        },
      });
      sandbox.track(proxy.pid);
      await waitFor(() => screen.includes("waiting for MCP JSON-RPC messages on stdin"), 20_000, "the proxy's notice");
      // Ctrl-D: end of input, as an editor closing stdin.
      proxy.terminal!.write("\x04");
      expect(await proxy.exited).toBe(0);
      proxy.terminal!.close();
    },
    SLOW,
  );
});
