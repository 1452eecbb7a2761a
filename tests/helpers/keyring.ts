/**
 * A real OS keychain for one test, never the person's own: a private D-Bus session bus (no service activation, so
 * nothing else can answer on it) with GNOME Keyring's Secret Service on it, its login keyring in the sandbox's HOME,
 * unlocked with a throwaway password. libsecret (what Bun.secrets uses on Linux) reaches it through
 * DBUS_SESSION_BUS_ADDRESS, which is put in the sandbox's environment: every msm command and session of the test, and
 * so the supervisor and daemons they start, use it. Both processes are tracked by the sandbox and killed with it.
 * `.ci/run` installs gnome-keyring and dbus; without them the tests that need this are skipped.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MSM, type Sandbox, waitFor } from "./sandbox.ts";

export const KEYRING = process.platform === "linux" && Bun.which("dbus-daemon") !== null && Bun.which("gnome-keyring-daemon") !== null;

export async function startKeyring(sandbox: Sandbox): Promise<string> {
  const socket = join(sandbox.root, "bus");
  const config = join(sandbox.root, "bus.conf");
  // A session bus with no <servicedir>: no daemon is ever started on demand behind the test's back.
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  );
  const bus = Bun.spawn(["dbus-daemon", "--nofork", `--config-file=${config}`], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  sandbox.track(bus.pid);
  const address = `unix:path=${socket}`;
  await waitFor(() => existsSync(socket), 10_000, "the test's D-Bus");
  const env = { HOME: sandbox.home, PATH: process.env.PATH ?? "/usr/bin:/bin", DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: sandbox.root };
  // --unlock reads the login keyring's password from stdin (and makes the keyring when there is none).
  const keyring = Bun.spawn(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"], {
    env,
    stdin: new TextEncoder().encode("throwaway-test-password"),
    stdout: "ignore",
    stderr: "ignore",
  });
  sandbox.track(keyring.pid);
  sandbox.env.DBUS_SESSION_BUS_ADDRESS = address;
  // Ready when an entry can be stored (the login collection exists and is unlocked), not merely when it is on the bus.
  await waitFor(
    async () => {
      const probe = Bun.spawn([MSM, "secret", "set", "keyring-ready"], {
        env: sandbox.env,
        stdin: new TextEncoder().encode("ready"),
        stdout: "ignore",
        stderr: "ignore",
      });
      return (await probe.exited) === 0;
    },
    20_000,
    "GNOME Keyring to answer on the test's D-Bus",
  );
  const removed = Bun.spawn([MSM, "secret", "rm", "keyring-ready"], { env: sandbox.env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  await removed.exited;
  return address;
}
