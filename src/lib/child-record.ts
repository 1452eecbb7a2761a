import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { removeQuietly } from "./fsutil.ts";
import { msmHome } from "./paths.ts";
import { isAlive, leadsGroup, signal, startTicks } from "./proc.ts";

const RecordSchema = z.array(z.object({ pid: z.number().check(z.int(), z.positive()), start: z.optional(z.string()) }));

/** `<target>.children`: the pids (and start times) of the children a stdio host runs (host/leftovers.ts writes it). */
export function childRecordFile(target: string): string {
  return join(msmHome(), `${target}.children`);
}

/**
 * Kills the process groups of the children `<target>.children` names, when the pid still runs the same process
 * (start time) and leads its own group, and removes the file; returns their pids. The next host of the target does
 * it at its start; the supervisor does it for a target removed from config.json, which has no next host.
 */
export function reapChildRecord(target: string): number[] {
  const file = childRecordFile(target);
  let entries: z.infer<typeof RecordSchema> = [];
  try {
    const parsed = RecordSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (parsed.success) entries = parsed.data;
  } catch {}
  const killed: number[] = [];
  for (const { pid, start } of entries) {
    if (!isAlive(pid) || (start !== undefined && startTicks(pid) !== start) || !leadsGroup(pid)) continue;
    signal(-pid, "SIGKILL");
    killed.push(pid);
  }
  removeQuietly(file);
  return killed;
}
