import { defineCommand } from "citty";
import { listLocks } from "../../lib/lock.ts";
import { isHealthy } from "../../lib/ensure.ts";
import { msmHome } from "../../lib/paths.ts";

export interface StatusRow {
  name: string;
  pid: number | null;
  port: number | null;
  transport: string | null;
  alive: boolean;
  healthy: boolean;
  uptimeSeconds: number | null;
  version: string | null;
  problem: string | null;
}

export async function collectStatus(): Promise<StatusRow[]> {
  return Promise.all(
    listLocks().map(async ({ name, info, alive }) => {
      if (!info) {
        return { name, pid: null, port: null, transport: null, alive: false, healthy: false, uptimeSeconds: null, version: null, problem: "corrupt lock file (cleared on next start)" };
      }
      const healthy = alive && info.port > 0 ? await isHealthy(info.port) : false;
      const started = Date.parse(info.startedAt);
      return {
        name,
        pid: info.pid,
        port: info.port,
        transport: info.transport,
        alive,
        healthy,
        uptimeSeconds: alive && Number.isFinite(started) ? Math.max(0, Math.round((Date.now() - started) / 1000)) : null,
        version: info.version,
        problem: alive ? (healthy ? null : "not answering /health") : "process is gone (stale lock, cleared on next start)",
      };
    }),
  );
}

export function formatUptime(seconds: number | null): string {
  if (seconds === null) return "-";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

export default defineCommand({
  meta: { name: "status", description: "Show msm's daemons: pid, port, transport, health, uptime" },
  args: {
    json: { type: "boolean", description: "Print JSON instead of a table", default: false },
  },
  async run({ args }) {
    const rows = await collectStatus();
    if (args.json) {
      process.stdout.write(JSON.stringify({ home: msmHome(), daemons: rows }, null, 2) + "\n");
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`No msm daemons are running (state in ${msmHome()}).\nThey start on demand when an editor runs "msm proxy --target NAME".\n`);
      return;
    }
    const lines = [["NAME", "PID", "PORT", "TRANSPORT", "ALIVE", "UPTIME", "NOTE"]];
    for (const r of rows) {
      lines.push([r.name, r.pid?.toString() ?? "-", r.port?.toString() ?? "-", r.transport ?? "-", r.alive ? (r.healthy ? "yes" : "unhealthy") : "no", formatUptime(r.uptimeSeconds), r.problem ?? ""]);
    }
    process.stdout.write(table(lines) + "\n");
  },
});
