import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { launchdPlist, systemdUnit, windowsTaskXml, type ServiceSpec } from "../../../src/service/files.ts";

const FIXTURES = resolve(import.meta.dir, "../../fixtures/service");
/** Awkward on purpose: a space, an ampersand, a percent sign and a quote must survive each format's quoting. */
const SPEC: ServiceSpec = {
  command: ["/opt/my tools/msm"],
  msmHome: "/home/ann/state & more/100%",
  logFile: "/home/ann/.mcp-session-manager/logs/supervisor-launchd.log",
  user: "DESKTOP-1\\ann",
};

function golden(name: string, text: string): void {
  // MSM_UPDATE_GOLDEN=1 rewrites the files after an intended change; review the diff before committing.
  if (process.env.MSM_UPDATE_GOLDEN) writeFileSync(join(FIXTURES, name), text);
  expect(text).toBe(readFileSync(join(FIXTURES, name), "utf8"));
}

function python(script: string, input: string): { code: number; out: string } {
  const result = Bun.spawnSync(["python3", "-c", script], { stdin: Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString() + result.stderr.toString() };
}
const hasPython = Bun.which("python3") !== null;

describe("service files", () => {
  test("systemd unit: golden file, and systemd's own verifier accepts it", () => {
    const unit = systemdUnit(SPEC);
    golden("msm.service", unit);
    expect(unit).toContain('ExecStart="/opt/my tools/msm" supervisor --detached');
    expect(unit).toContain('Environment="MSM_HOME=/home/ann/state & more/100%%"');
    if (!Bun.which("systemd-analyze")) return; // apt install systemd
    // Verify a copy that runs a program that exists here (verify checks ExecStart is executable).
    const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT ?? "/tmp", "unit-"));
    const file = join(dir, "msm.service");
    writeFileSync(file, systemdUnit({ ...SPEC, command: [process.execPath] }));
    const runtime = join(dir, "run");
    Bun.spawnSync(["mkdir", "-m", "700", runtime]);
    const verify = Bun.spawnSync(["systemd-analyze", "--user", "verify", file], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
  }, 30_000);

  test("launchd plist: golden file, and a real plist parser reads back what was meant", () => {
    const plist = launchdPlist(SPEC);
    golden("dev.msm.supervisor.plist", plist);
    if (!hasPython) return;
    // Python's plistlib implements Apple's XML plist format (plutil is macOS-only).
    const parsed = python("import plistlib,sys,json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))", plist);
    expect(parsed.code).toBe(0);
    expect(JSON.parse(parsed.out)).toEqual({
      Label: "dev.msm.supervisor",
      ProgramArguments: ["/opt/my tools/msm", "supervisor", "--detached"],
      EnvironmentVariables: { MSM_HOME: "/home/ann/state & more/100%" },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      AbandonProcessGroup: true,
      ProcessType: "Background",
      StandardOutPath: SPEC.logFile,
      StandardErrorPath: SPEC.logFile,
    });
  }, 30_000);

  test("Task Scheduler XML: golden file, well-formed, in the task namespace, with a logon trigger and no time limit", () => {
    const task = windowsTaskXml({ ...SPEC, command: ["C:\\Users\\ann\\.local\\bin\\msm.exe"] });
    golden("msm-supervisor.xml", task);
    if (!hasPython) return;
    const script = `
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
root = ET.fromstring(sys.stdin.read().replace('encoding="UTF-16"', ''))
print(root.find("t:Actions/t:Exec/t:Command", ns).text)
print(root.find("t:Actions/t:Exec/t:Arguments", ns).text)
print(root.find("t:Triggers/t:LogonTrigger/t:UserId", ns).text)
print(root.find("t:Settings/t:ExecutionTimeLimit", ns).text)
print(root.find("t:Settings/t:MultipleInstancesPolicy", ns).text)`;
    const parsed = python(script, task);
    expect(parsed.code).toBe(0);
    expect(parsed.out.trim().split("\n")).toEqual(["C:\\Users\\ann\\.local\\bin\\msm.exe", "supervisor --detached", "DESKTOP-1\\ann", "PT0S", "IgnoreNew"]);
  }, 30_000);
});
