import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { alive, call, Sandbox, waitFor } from "../helpers/sandbox.ts";
import { buildVersion } from "../helpers/versions.ts";

/**
 * A user runs msm 1.0.0 (supervisor, memory daemon, an open editor session), installs 2.0.0, and runs
 * `msm upgrade-daemons`. The skew is reported until then; afterwards everything is 2.0.0 and the open session's
 * next call just works.
 */
describe("upgrading a running msm", () => {
  let sandbox: Sandbox;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    sandbox = new Sandbox();
    [v1, v2] = await Promise.all([buildVersion("1.0.0"), buildVersion("2.0.0")]);
  }, 180_000);

  afterAll(async () => {
    await sandbox?.cleanup();
  });

  async function session(binary: string, project: string) {
    let stderr = "";
    const transport = new StdioClientTransport({
      command: binary,
      args: ["proxy", "--target", "memory"],
      env: { ...sandbox.env, MSM_PROJECT_DIR: project },
      cwd: project,
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: "upgrade-test", version: "1" });
    await client.connect(transport);
    sandbox.track(transport.pid);
    return { client, stderr: () => stderr };
  }

  async function run(binary: string, args: string[]) {
    const child = Bun.spawn([binary, ...args], { env: sandbox.env, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { code, stdout, stderr };
  }

  test("skew is reported by status and the new proxy; upgrade-daemons replaces them one by one; open sessions carry on", async () => {
    const project = sandbox.project("p");
    const old = await session(v1, project);
    await call(old.client, "create_entities", { entities: [{ name: "before", entityType: "t", observations: ["written by 1.0.0"] }] });
    const oldSupervisor = sandbox.lock("supervisor")!;
    const oldDaemon = sandbox.lock("memory")!;
    expect(oldSupervisor.version).toBe("1.0.0");
    expect(oldDaemon.version).toBe("1.0.0");

    // The new binary, before upgrading anything: status names the skew and the fix.
    const status = await run(v2, ["status"]);
    expect(status.stdout).toContain("the supervisor (pid");
    expect(status.stdout).toContain("is msm 1.0.0, this binary is 2.0.0");
    expect(status.stdout).toContain("msm upgrade-daemons");
    const json = JSON.parse((await run(v2, ["status", "--json"])).stdout);
    expect(json.version).toBe("2.0.0");
    expect(json.targets.find((t: { name: string }) => t.name === "memory").version).toBe("1.0.0");
    expect(json.skew.length).toBe(2);

    // A session of the new binary works with the old daemon, and says so in its log.
    const fresh = await session(v2, project);
    await call(fresh.client, "read_graph");
    expect(fresh.stderr()).toContain("the memory daemon (pid");
    expect(fresh.stderr()).toContain("is msm 1.0.0, this binary is 2.0.0");

    const upgrade = await run(v2, ["upgrade-daemons"]);
    expect(upgrade.code).toBe(0);
    expect(upgrade.stdout).toContain("replacing supervisor pid");
    expect(upgrade.stdout).toContain("restarted memory (msm 1.0.0 -> 2.0.0)");
    expect(sandbox.lock("supervisor")!.version).toBe("2.0.0");
    expect(sandbox.lock("memory")!.version).toBe("2.0.0");
    await waitFor(() => !alive(oldSupervisor.pid) && !alive(oldDaemon.pid), 10_000, "old processes to exit");

    // The open sessions' next calls succeed against the new daemon, with the data written before.
    const seenByOld = await call<{ entities: { name: string }[] }>(old.client, "read_graph");
    expect(seenByOld.entities.map((e) => e.name)).toEqual(["before"]);
    await call(fresh.client, "create_entities", { entities: [{ name: "after", entityType: "t", observations: ["written by 2.0.0"] }] });
    const seenByNew = await call<{ entities: { name: string }[] }>(fresh.client, "read_graph");
    expect(seenByNew.entities.map((e) => e.name).sort()).toEqual(["after", "before"]);

    // Nothing left to report; a second upgrade has nothing to do.
    const after = await run(v2, ["status"]);
    expect(after.stdout).not.toContain("this binary is");
    const again = await run(v2, ["upgrade-daemons"]);
    expect(again.stdout).toContain("already is msm 2.0.0");
    expect(readFileSync(join(sandbox.msmHome, "logs", "supervisor.log"), "utf8")).toContain("adopted running daemon");

    // restart --all replaces every daemon even of the same version, one at a time.
    const daemonBefore = sandbox.lock("memory")!.pid;
    const restartAll = await run(v2, ["restart", "--all"]);
    expect(restartAll.code).toBe(0);
    expect(restartAll.stdout).toContain("restarted memory");
    expect(sandbox.lock("memory")!.pid).not.toBe(daemonBefore);
    expect((await call<{ entities: unknown[] }>(old.client, "read_graph")).entities.length).toBe(2);

    await old.client.close();
    await fresh.client.close();
  }, 120_000);
});
