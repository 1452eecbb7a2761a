import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { removeQuietly, writeFileAtomic } from "../lib/fsutil.ts";
import { msmHome } from "../lib/paths.ts";
import { isAlive, leadsGroup, signal, startTicks } from "../lib/proc.ts";

const RecordSchema = z.array(z.object({ pid: z.number().check(z.int(), z.positive()), start: z.optional(z.string()) }));

/**
 * The children a host runs, on disk (`<target>.children`). A host that dies without stopping them (SIGKILL, OOM)
 * leaves them running in their own process groups, where nobody would ever stop them — orphaned servers are the
 * most reported bug of every MCP gateway. The next host of the target kills what the file names, when the pid
 * still runs the same process (start time) and leads its own group.
 */
export class ChildRecord {
  private readonly live = new Map<number, string | undefined>();
  readonly file: string;

  constructor(target: string) {
    this.file = join(msmHome(), `${target}.children`);
  }

  /** Kills the process groups of children a previous host of this target left behind; returns their pids. */
  reapLeftovers(): number[] {
    let entries: z.infer<typeof RecordSchema> = [];
    try {
      const parsed = RecordSchema.safeParse(JSON.parse(readFileSync(this.file, "utf8")));
      if (parsed.success) entries = parsed.data;
    } catch {}
    const killed: number[] = [];
    for (const { pid, start } of entries) {
      if (!isAlive(pid) || (start !== undefined && startTicks(pid) !== start) || !leadsGroup(pid)) continue;
      signal(-pid, "SIGKILL");
      killed.push(pid);
    }
    removeQuietly(this.file);
    return killed;
  }

  add(pid: number): void {
    this.live.set(pid, startTicks(pid));
    this.save();
  }

  remove(pid: number): void {
    if (this.live.delete(pid)) this.save();
  }

  private save(): void {
    try {
      if (this.live.size === 0) removeQuietly(this.file);
      else writeFileAtomic(this.file, JSON.stringify([...this.live].map(([pid, start]) => ({ pid, start }))) + "\n");
    } catch {}
  }
}
