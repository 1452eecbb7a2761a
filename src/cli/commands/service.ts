import { defineCommand } from "citty";
import type { ServiceReport } from "../../service/index.ts";

function say(line: string): void {
  process.stdout.write(line + "\n");
}

/** Registration failed: say why and what to run by hand, and exit 1 (msm will not start at login as asked). */
function reportProblem(report: ServiceReport, action: string): void {
  if (!report.problem) return;
  process.stderr.write(`msm: could not ${action} with ${report.manager}: ${report.problem}\n`);
  if (report.manual?.length)
    process.stderr.write(`Run it by hand (in your desktop session, where ${report.manager} runs for you):\n  ${report.manual.join("\n  ")}\n`);
  process.exitCode = 1;
}

const install = defineCommand({
  meta: { name: "install", description: "Start the msm supervisor at login: write and register a systemd user unit, launchd agent or Task Scheduler task" },
  args: {
    register: { type: "boolean", description: "Register with the service manager (--no-register only writes the file)", default: true },
  },
  async run({ args }) {
    const { installService } = await import("../../service/index.ts");
    const report = installService({ register: args.register });
    say(`wrote ${report.file}`);
    if (report.registered && !report.problem) say(`registered with ${report.manager}: the supervisor starts at your next login`);
    reportProblem(report, "register it");
  },
});

const uninstall = defineCommand({
  meta: { name: "uninstall", description: "Stop starting the supervisor at login (a running supervisor is left alone; msm stop --all stops it)" },
  async run() {
    const { uninstallService } = await import("../../service/index.ts");
    const report = uninstallService();
    say(`removed ${report.file}`);
    reportProblem(report, "unregister it");
  },
});

const status = defineCommand({
  meta: { name: "status", description: "Is the login service written, current and registered?" },
  args: { json: { type: "boolean", description: "Print JSON", default: false } },
  async run({ args }) {
    const { serviceStatus } = await import("../../service/index.ts");
    const report = serviceStatus();
    if (args.json) return say(JSON.stringify(report, null, 2));
    const registered = report.registered === undefined ? `unknown (${report.manager} could not be asked)` : report.registered ? "yes" : "no";
    say(`${report.manager}: ${report.file}`);
    say(
      `  file:       ${report.installed ? (report.current ? "written, current" : "written, but not what this msm would write: run msm service install") : "not written (msm service install)"}`,
    );
    say(`  registered: ${registered}`);
  },
});

export default defineCommand({
  meta: { name: "service", description: "Start the msm supervisor at login (systemd user unit, launchd agent, Task Scheduler task)" },
  subCommands: { install, uninstall, status },
});
