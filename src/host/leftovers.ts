import { childRecordFile, reapChildRecord } from "../lib/child-record.ts";
import { removeQuietly, writeFileAtomic } from "../lib/fsutil.ts";
import { startTicks } from "../lib/proc.ts";

/**
 * The children a host runs, on disk (`<target>.children`). A host that dies without stopping them (SIGKILL, OOM)
 * leaves them running in their own process groups, where nobody would ever stop them — orphaned servers are the
 * most reported bug of every MCP gateway. The next host of the target kills what the file names, when the pid
 * still runs the same process (start time) and leads its own group.
 */
export class ChildRecord {
  private readonly live = new Map<number, string | undefined>();
  readonly file: string;

  constructor(private readonly target: string) {
    this.file = childRecordFile(target);
  }

  /** Kills the process groups of children a previous host of this target left behind; returns their pids. */
  reapLeftovers(): number[] {
    return reapChildRecord(this.target);
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
