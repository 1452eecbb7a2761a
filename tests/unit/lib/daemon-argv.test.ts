// The supervisor starts daemons with daemonArgv(); the hidden commands read those lines with DAEMON_ARGS. Every
// command line the table builds is read back here by citty, through the real command definitions.
import { expect, test } from "bun:test";
import { parseArgs, type ArgsDef, type CommandDef } from "citty";
import { DAEMON_TARGET_ENV, daemonArgv, daemonTargetEnv, parsePort, takeDaemonTarget, type DaemonSpec } from "../../../src/lib/contracts/daemon-argv.ts";
import { parseConfig, resolveTarget } from "../../../src/lib/config.ts";
import { root } from "../../../src/cli/main.ts";

async function commandOf(name: string): Promise<CommandDef> {
  const commands = root.subCommands as unknown as Record<string, () => Promise<CommandDef>>;
  return commands[name]!();
}

const specs: DaemonSpec[] = [
  { kind: "supervisor" },
  { kind: "supervisor", port: 4199 },
  { kind: "memory", port: 3100 },
  { kind: "memory", port: 0 },
  { kind: "host", target: "fs.tools-1" },
  { kind: "remote", name: "linear", port: 0 },
];

test("every daemon command line parses back to what built it", async () => {
  for (const spec of specs) {
    const [name, ...rest] = daemonArgv(spec);
    expect(name).toBe(spec.kind);
    const command = await commandOf(name!);
    const args = parseArgs(rest, (command.args ?? {}) as ArgsDef) as Record<string, unknown>;
    expect(args.detached).toBe(true);
    if ("port" in spec && spec.port !== undefined) expect(parsePort(String(args.port))).toBe(spec.port);
    if (spec.kind === "supervisor" && spec.port === undefined) expect(args.port).toBeUndefined();
    if (spec.kind === "host") expect(args.target).toBe(spec.target);
    if (spec.kind === "remote") expect(args.name).toBe(spec.name);
  }
});

test("a port that is not one is a usage error naming it", () => {
  for (const bad of ["x", "70000", "-1", "1.5"]) expect(() => parsePort(bad)).toThrow(`not "${bad}"`);
  expect(parsePort("0")).toBe(0);
});

test("the target the supervisor hands a daemon is read once, for that name only, and leaves the environment", () => {
  const target = resolveTarget(parseConfig(JSON.stringify({ targets: { fs: { command: "npx", args: ["x"], env: { A: "1" } } } })), "fs");
  Object.assign(process.env, daemonTargetEnv(target));
  expect(takeDaemonTarget("fs")).toEqual(target);
  expect(process.env[DAEMON_TARGET_ENV]).toBeUndefined();
  expect(takeDaemonTarget("fs")).toBeUndefined();
  Object.assign(process.env, daemonTargetEnv(target));
  expect(takeDaemonTarget("other")).toBeUndefined();
  expect(process.env[DAEMON_TARGET_ENV]).toBeUndefined();
  process.env[DAEMON_TARGET_ENV] = "{not json";
  expect(takeDaemonTarget("fs")).toBeUndefined();
});
