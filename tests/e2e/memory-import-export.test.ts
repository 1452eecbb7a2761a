import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MSM, Sandbox, call, openSession, requireBinary } from "../helpers/sandbox.ts";
import { rng, startOfficial } from "../helpers/official.ts";

function msm(sandbox: Sandbox, args: string[], env: Record<string, string> = {}) {
  requireBinary();
  const result = Bun.spawnSync([MSM, ...args], { env: { ...sandbox.env, ...env }, cwd: sandbox.root, stdin: "ignore" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const NAMES = ["Ada", "Grace", "Émile", "İstanbul", 'quote"d', "日本", "a\nb", "tab\t", "Ω"];

describe("msm memory import / export", () => {
  test("official file → import → export → the official server reads back the same graph", async () => {
    await using sandbox = new Sandbox();
    // A real file, written by the official server itself.
    const source = join(sandbox.root, "memory.jsonl");
    const official = await startOfficial(sandbox.root, source);
    const r = rng(42);
    for (let i = 0; i < 40; i++) {
      const name = `${r.pick(NAMES)} ${i % 25}`;
      await official.client.callTool({
        name: "create_entities",
        arguments: { entities: [{ name, entityType: r.pick(["person", "place"]), observations: [`seen ${i}`, r.pick(NAMES)] }] },
      });
      await official.client.callTool({
        name: "create_relations",
        arguments: { relations: [{ from: name, to: `${r.pick(NAMES)} ${r.int(25)}`, relationType: r.pick(["knows", "near"]) }] },
      });
    }
    await official.client.callTool({ name: "delete_entities", arguments: { entityNames: [`${NAMES[0]} 3`] } });
    const original = (await official.client.callTool({ name: "read_graph", arguments: {} })).structuredContent;
    await official.close();

    const project = sandbox.project("imported");
    const imported = msm(sandbox, ["memory", "import", source, "--project", project]);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toContain("Imported");

    // msm serves exactly what the official server had.
    const session = await openSession(sandbox, project);
    expect(await call(session.client, "read_graph")).toEqual(original as Record<string, unknown>);
    await session.close();

    const out = join(sandbox.root, "exported.jsonl");
    const exported = msm(sandbox, ["memory", "export", "--project", project, "--output", out]);
    expect(exported.code).toBe(0);
    expect(msm(sandbox, ["memory", "export", "--project", project]).stdout).toBe(readFileSync(out, "utf8"));

    const back = await startOfficial(sandbox.root, out);
    expect((await back.client.callTool({ name: "read_graph", arguments: {} })).structuredContent).toEqual(original);
    await back.close();
  }, 60_000);

  test("MEMORY_FILE_PATH is the default source; a malformed line is reported by number; a missing project is an error", async () => {
    await using sandbox = new Sandbox();
    const file = join(sandbox.root, "legacy.json");
    writeFileSync(file, '{"type":"entity","name":"Legacy","entityType":"t","observations":["old"]}\n');
    const ok = msm(sandbox, ["memory", "import"], { MEMORY_FILE_PATH: file });
    expect(ok.code).toBe(0);
    expect(msm(sandbox, ["memory", "export"]).stdout).toBe('{"type":"entity","name":"Legacy","entityType":"t","observations":["old"]}\n');

    writeFileSync(file, '{"type":"entity","name":"A","entityType":"t","observations":[]}\n\n{"type":"entity",\n');
    const bad = msm(sandbox, ["memory", "import", file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${file}:3: not valid JSON`);
    expect(bad.stdout).toBe("");

    const missing = msm(sandbox, ["memory", "export", "--project", join(sandbox.root, "nope")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such directory");
    expect(msm(sandbox, ["memory", "import"]).stderr).toContain("MEMORY_FILE_PATH");
  });
});
