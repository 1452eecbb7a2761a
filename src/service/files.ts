/**
 * The files that start the msm supervisor at login, one per OS's own service manager. Pure functions of where msm
 * lives and where its state is, so tests check them byte for byte (golden files) and with the OS's own tools.
 */

export interface ServiceSpec {
  /** Program and arguments that run msm (the binary alone when compiled). */
  command: string[];
  /** MSM_HOME to pin, when the user runs msm with a non-default one. */
  msmHome?: string;
  /** Where launchd writes the supervisor's stdout/stderr (it has no journal). */
  logFile: string;
  /** Windows only: DOMAIN\user the logon trigger fires for. */
  user?: string;
}

/** launchd label, systemd unit name and Task Scheduler task name. */
export const SERVICE_NAME = { systemd: "msm.service", launchd: "dev.msm.supervisor", windows: "msm-supervisor" } as const;

/** The supervisor runs in the foreground under the service manager; --detached sends its log to the log file only. */
const SUPERVISOR_ARGS = ["supervisor", "--detached"];

/** systemd user unit. */
export function systemdUnit(spec: ServiceSpec): string {
  const exec = [...spec.command, ...SUPERVISOR_ARGS].map(systemdQuote).join(" ");
  return [
    "[Unit]",
    "Description=msm supervisor (MCP session manager: shared MCP server daemons for editor sessions)",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec}`,
    ...(spec.msmHome ? [`Environment=${systemdQuote(`MSM_HOME=${spec.msmHome}`)}`] : []),
    // Only the supervisor: the daemons it started serve open sessions and are adopted by the next supervisor, so
    // stopping the unit (or a restart) must not take them down with it.
    "KillMode=process",
    // A second supervisor for the same MSM_HOME exits 0 at once ("already running"): that is not a failure.
    "Restart=on-failure",
    "RestartSec=2",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

/** One ExecStart/Environment word: quoted when it needs to be, `%` doubled (systemd specifiers), `\` and `"` escaped. */
function systemdQuote(word: string): string {
  const escaped = word.replaceAll("%", "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}

/** launchd agent (~/Library/LaunchAgents). */
export function launchdPlist(spec: ServiceSpec): string {
  const args = [...spec.command, ...SUPERVISOR_ARGS].map((a) => `\t\t<string>${xml(a)}</string>`);
  const env = spec.msmHome
    ? ["\t<key>EnvironmentVariables</key>", "\t<dict>", "\t\t<key>MSM_HOME</key>", `\t\t<string>${xml(spec.msmHome)}</string>`, "\t</dict>"]
    : [];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "\t<key>Label</key>",
    `\t<string>${SERVICE_NAME.launchd}</string>`,
    "\t<key>ProgramArguments</key>",
    "\t<array>",
    ...args,
    "\t</array>",
    ...env,
    "\t<key>RunAtLoad</key>",
    "\t<true/>",
    // Restarted only after a crash; "already running" exits 0 and stays down.
    "\t<key>KeepAlive</key>",
    "\t<dict>",
    "\t\t<key>SuccessfulExit</key>",
    "\t\t<false/>",
    "\t</dict>",
    // The daemons the supervisor started share its process group: launchd must not kill them when it exits.
    "\t<key>AbandonProcessGroup</key>",
    "\t<true/>",
    "\t<key>ProcessType</key>",
    "\t<string>Background</string>",
    "\t<key>StandardOutPath</key>",
    `\t<string>${xml(spec.logFile)}</string>`,
    "\t<key>StandardErrorPath</key>",
    `\t<string>${xml(spec.logFile)}</string>`,
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}

/** Task Scheduler task (schtasks /Create /XML): at logon of this user, hidden, no time limit, restarted on failure. */
export function windowsTaskXml(spec: ServiceSpec): string {
  const [program, ...rest] = [...spec.command, ...SUPERVISOR_ARGS];
  const args = rest.map((a) => (/[\s"]/.test(a) ? `"${a.replaceAll('"', '\\"')}"` : a)).join(" ");
  const user = spec.user ? `\n      <UserId>${xml(spec.user)}</UserId>` : "";
  return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>msm supervisor (MCP session manager): starts at logon, keeps shared MCP server daemons for editor sessions.</Description>
    <URI>\\${SERVICE_NAME.windows}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>${user}
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">${user}
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>true</Hidden>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xml(program!)}</Command>
      <Arguments>${xml(args)}</Arguments>
    </Exec>
  </Actions>
</Task>
`;
}
