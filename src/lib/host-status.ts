// The /stats answer lives in contracts/stats.ts; this name stays for src/host/, which imports it from here.
export type { ChildStatus, HostStats } from "./contracts/stats.ts";

import type { ChildStatus } from "./contracts/stats.ts";

/**
 * Why a running host is `degraded`: the children that failed (a crash loop, a command that cannot run), whose
 * sessions get errors until `msm restart`. Undefined when none did. The host process itself is fine, so its own
 * state alone would say `running` while a project's sessions fail.
 */
export function failedChildrenNote(children: ChildStatus[] | undefined): string | undefined {
  const failed = (children ?? []).filter((c) => c.state === "failed");
  if (!failed.length) return undefined;
  const label = (c: ChildStatus) => (c.project ? `the child for ${c.project}` : "the global child");
  const reasons = failed.map((c) => `${label(c)} failed: ${c.note ?? "it keeps exiting"}`).join("; ");
  return failed.length === 1 ? reasons : `${failed.length} of ${children!.length} children failed: ${reasons}`;
}
