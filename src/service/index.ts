import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { removeQuietly } from "../lib/fsutil.ts";
import { msmHome, paths, userHome } from "../lib/paths.ts";
import { selfCommand } from "../lib/spawn.ts";
import { launchdPlist, SERVICE_NAME, systemdUnit, windowsTaskXml, type ServiceSpec } from "./files.ts";

/** What `msm service install|uninstall|status` did or found, for people and for tests. */
export interface ServiceReport {
  manager: "systemd" | "launchd" | "task scheduler";
  file: string;
  installed: boolean;
  /** Registered with (and so started at login by) the service manager; undefined when that could not be asked. */
  registered: boolean | undefined;
  /** What went wrong talking to the service manager, and the commands that do the same by hand. */
  problem?: string;
  manual?: string[];
}

type Platform = "linux" | "darwin" | "win32";

/** The service file for this OS and where it goes. */
export function serviceFile(platform: Platform = process.platform as Platform): { manager: ServiceReport["manager"]; file: string; text: string } {
  const spec: ServiceSpec = {
    command: selfCommand(),
    msmHome: process.env.MSM_HOME ? msmHome() : undefined,
    logFile: paths.log("supervisor-launchd"),
    user: platform === "win32" ? [process.env.USERDOMAIN, process.env.USERNAME].filter(Boolean).join("\\") || undefined : undefined,
  };
  if (platform === "darwin") {
    return { manager: "launchd", file: join(userHome(), "Library", "LaunchAgents", `${SERVICE_NAME.launchd}.plist`), text: launchdPlist(spec) };
  }
  if (platform === "win32") {
    return { manager: "task scheduler", file: join(msmHome(), "service", `${SERVICE_NAME.windows}.xml`), text: windowsTaskXml(spec) };
  }
  const config = process.env.XDG_CONFIG_HOME || join(userHome(), ".config");
  return { manager: "systemd", file: join(config, "systemd", "user", SERVICE_NAME.systemd), text: systemdUnit(spec) };
}

function run(argv: string[]): { ok: boolean; output: string } {
  try {
    const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: process.env });
    return { ok: result.exitCode === 0, output: (result.stderr.toString() + result.stdout.toString()).trim() };
  } catch (error) {
    return { ok: false, output: (error as Error).message };
  }
}

function uid(): string {
  return String(process.getuid?.() ?? "");
}

/** The commands that register (or unregister) the file by hand, shown when msm could not do it itself. */
function commands(manager: ServiceReport["manager"], file: string, action: "register" | "unregister"): string[][] {
  if (manager === "systemd") {
    return action === "register"
      ? [
          ["systemctl", "--user", "daemon-reload"],
          ["systemctl", "--user", "enable", SERVICE_NAME.systemd],
        ]
      : [
          ["systemctl", "--user", "disable", SERVICE_NAME.systemd],
          ["systemctl", "--user", "daemon-reload"],
        ];
  }
  if (manager === "launchd") {
    return action === "register" ? [["launchctl", "bootstrap", `gui/${uid()}`, file]] : [["launchctl", "bootout", `gui/${uid()}/${SERVICE_NAME.launchd}`]];
  }
  return action === "register"
    ? [["schtasks", "/Create", "/TN", SERVICE_NAME.windows, "/XML", file, "/F"]]
    : [["schtasks", "/Delete", "/TN", SERVICE_NAME.windows, "/F"]];
}

function shellLine(argv: string[]): string {
  return argv.map((a) => (/[\s"'$]/.test(a) ? `"${a}"` : a)).join(" ");
}

function apply(manager: ServiceReport["manager"], file: string, action: "register" | "unregister"): { problem?: string; manual?: string[] } {
  const steps = commands(manager, file, action);
  // launchd refuses to bootstrap a label that is already loaded (a reinstall): unload the old one first, quietly.
  if (manager === "launchd" && action === "register") run(commands(manager, file, "unregister")[0]!);
  for (const step of steps) {
    const { ok, output } = run(step);
    if (!ok) return { problem: `"${shellLine(step)}" failed: ${output.split("\n")[0] || "no output"}`, manual: steps.map(shellLine) };
  }
  return {};
}

/** Is the service registered? undefined when the service manager cannot be asked (no user bus, no launchctl). */
function registered(manager: ServiceReport["manager"]): boolean | undefined {
  if (manager === "systemd") {
    const { output } = run(["systemctl", "--user", "is-enabled", SERVICE_NAME.systemd]);
    if (output.startsWith("enabled")) return true;
    if (output.startsWith("disabled") || output.includes("No such file") || output.startsWith("not-found")) return false;
    return undefined;
  }
  if (manager === "launchd") {
    const { ok, output } = run(["launchctl", "print", `gui/${uid()}/${SERVICE_NAME.launchd}`]);
    return ok ? true : output.includes("Could not find") ? false : undefined;
  }
  const { ok, output } = run(["schtasks", "/Query", "/TN", SERVICE_NAME.windows]);
  return ok ? true : /cannot find|ERROR/i.test(output) ? false : undefined;
}

/** Writes the service file and registers it; a failed registration is reported with the commands to run by hand. */
export function installService(options: { register?: boolean } = {}): ServiceReport {
  const { manager, file, text } = serviceFile();
  mkdirSync(dirname(file), { recursive: true });
  // Task Scheduler reads its XML as UTF-16 (the encoding the declaration names); the others are UTF-8.
  if (manager === "task scheduler") writeFileSync(file, "\ufeff" + text, "utf16le");
  else writeFileSync(file, text, { mode: 0o644 });
  if (options.register === false) return { manager, file, installed: true, registered: registered(manager) };
  const outcome = apply(manager, file, "register");
  return { manager, file, installed: true, registered: outcome.problem ? registered(manager) : true, ...outcome };
}

/** Unregisters and removes the service file. The running supervisor is left alone (it serves open sessions). */
export function uninstallService(): ServiceReport {
  const { manager, file } = serviceFile();
  const outcome = existsSync(file) || registered(manager) ? apply(manager, file, "unregister") : {};
  removeQuietly(file);
  return { manager, file, installed: false, registered: outcome.problem ? registered(manager) : false, ...outcome };
}

export function serviceStatus(): ServiceReport & { current: boolean } {
  const { manager, file, text } = serviceFile();
  const installed = existsSync(file);
  let current = false;
  try {
    const onDisk = readFileSync(file, manager === "task scheduler" ? "utf16le" : "utf8").replace(/^\ufeff/, "");
    current = onDisk === text;
  } catch {}
  return { manager, file, installed, registered: registered(manager), current };
}
