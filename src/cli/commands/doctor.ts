import { defineCommand } from "citty";
import type { CheckStatus } from "../../lib/checks.ts";
import { installChecks, currentPlace } from "../../install/index.ts";
import { doctor } from "../../supervisor/index.ts";
import { paint, useColor } from "../style.ts";

const MARK: Record<CheckStatus, [string, "green" | "yellow" | "red"]> = { ok: ["✓", "green"], warn: ["!", "yellow"], fail: ["✗", "red"] };

export default defineCommand({
  meta: {
    name: "doctor",
    description:
      "Check editors' msm entries, MSM_HOME, config.json, the supervisor, daemons, locks and ports, and point out secrets in clear; exit 0 only when all pass",
  },
  args: {
    json: { type: "boolean", description: "Print the checks as JSON" },
  },
  async run({ args }) {
    const report = await doctor((config) => installChecks(currentPlace(), config));
    if (args.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else {
      const color = useColor();
      for (const check of report.checks) {
        const [mark, style] = MARK[check.status];
        process.stdout.write(`${paint(mark, style, color)} ${paint(check.name, "bold", color)}: ${check.detail}\n`);
        if (check.fix) process.stdout.write(`    fix: ${check.fix}\n`);
      }
      process.stdout.write(report.ok ? "All checks passed.\n" : "Some checks failed; each says how to fix it.\n");
    }
    if (!report.ok) process.exitCode = 1;
  },
});
