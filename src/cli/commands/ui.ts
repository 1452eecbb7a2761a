import { defineCommand } from "citty";
import { MsmError } from "../../lib/errors.ts";
import { callSupervisor } from "../../lib/contracts/supervisor-api.ts";
import { ensureSupervisor } from "../../lib/manager.ts";
import { openBrowser } from "../../lib/platform/open.ts";

/** How long `msm ui` waits for the supervisor to hand out a login URL (it loads the dashboard first). */
const LOGIN_TIMEOUT_MS = 10_000;

export default defineCommand({
  meta: { name: "ui", description: "Open the dashboard (daemons, sessions, logs, memory explorer) in a browser via a one-time login URL" },
  args: {
    open: { type: "boolean", description: "Open the browser (--no-open only prints the URL)", default: true },
  },
  async run({ args }) {
    const manager = await ensureSupervisor();
    const { url } = await callSupervisor(manager, "uiLogin", {}, LOGIN_TIMEOUT_MS).catch((error: Error) => {
      // A supervisor started by an older msm (before the dashboard) is still running: it does not know the route.
      if (!/answered 404/.test(error.message)) throw error;
      throw new MsmError(
        "SUPERVISOR_UNREACHABLE",
        `The running supervisor (pid ${manager.pid}) is from an older msm without the dashboard. Run "msm stop --all", then "msm ui" again.`,
      );
    });
    process.stdout.write(`${url}\n`);
    process.stderr.write('This link logs one browser in, once, within 2 minutes. Run "msm ui" again for another.\n');
    if (args.open && !openBrowser(url)) process.stderr.write("Could not start a browser: open the link above yourself.\n");
  },
});
