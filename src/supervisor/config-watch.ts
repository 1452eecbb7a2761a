import { type FSWatcher, statSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import type { ConsolaInstance } from "consola";

/**
 * Quiet time after the last change before config.json is read: editors save in bursts (truncate then write, a temp
 * file renamed over it, vim's backup rename then write), and one read of the finished file is what counts.
 */
export const CONFIG_DEBOUNCE_MS = 150;
/** A file that keeps changing is still read this often. */
export const CONFIG_MAX_WAIT_MS = 2_000;
/**
 * A config.json that vanished is taken as deleted (= the defaults) only once it has stayed away this long: saving by
 * delete-then-create, or vim's rename-then-write, leaves it missing for a moment, and that must not stop every daemon.
 */
export const CONFIG_ABSENT_GRACE_MS = 1_000;

/**
 * Watches config.json and says when it should be read again. fs.watch on its folder (not the file: a rename or a
 * delete-then-create replaces the file, and a watch on the old inode hears nothing more) gives changes at once;
 * `poll()`, called on the supervisor's tick, compares the file's stat with the last one read, for filesystems where
 * fs.watch misses events (network and some container mounts) and for a config.json that is a symlink elsewhere.
 */
export class ConfigWatch {
  /** The file's stat as of the last read ("" before the first). */
  private seen = "";
  private timer: Timer | undefined;
  private firstChange: number | undefined;
  private absentSince: number | undefined;
  private watcher: FSWatcher | undefined;

  constructor(
    readonly file: string,
    /** Reads and applies the file; called after the file settled, never twice at once. */
    private readonly onChange: () => void,
    private readonly log: ConsolaInstance,
  ) {}

  /** The file's identity and stat: another save, owner or mode is another fingerprint. "absent" when it is gone. */
  fingerprint(): string {
    try {
      const s = statSync(this.file);
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.mode}:${s.uid}`;
    } catch {
      return "absent";
    }
  }

  /** Call just before reading the file: what is read now is what `poll()` compares with later. */
  reading(): void {
    this.seen = this.fingerprint();
  }

  start(): void {
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        // No name (some platforms): anything in the folder may be config.json.
        if (changed === null || changed === name) this.changed();
      });
      this.watcher.on("error", (error) => {
        this.log.warn(`watching ${dirname(this.file)} failed (${error.message}); config.json is still checked every tick`);
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (error) {
      this.log.warn(`cannot watch ${dirname(this.file)} (${(error as Error).message}); config.json is checked every tick instead`);
    }
  }

  /** The supervisor's tick: a file whose stat moved since the last read is read (after the usual quiet time). */
  poll(): void {
    if (!this.timer && this.fingerprint() !== this.seen) this.changed();
  }

  /**
   * Reads the file now if it differs from the last read: a session asks for a target the config in force does not
   * have, and the file may name it already (the proxy read it a moment ago), before the quiet time is over.
   * Not for a missing file: that one waits out CONFIG_ABSENT_GRACE_MS.
   */
  settleNow(): void {
    const now = this.fingerprint();
    if (now === this.seen || now === "absent") return;
    this.fire();
  }

  private changed(): void {
    const now = Date.now();
    this.firstChange ??= now;
    // Missing: counted from when it went missing, however many events follow; present again: the usual quiet time.
    if (this.fingerprint() === "absent") this.absentSince ??= now;
    else this.absentSince = undefined;
    const wait =
      this.absentSince !== undefined
        ? Math.max(0, this.absentSince + CONFIG_ABSENT_GRACE_MS - now)
        : Math.max(0, Math.min(CONFIG_DEBOUNCE_MS, this.firstChange + CONFIG_MAX_WAIT_MS - now));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref?.();
  }

  private fire(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.firstChange = undefined;
    this.absentSince = undefined;
    const before = this.fingerprint();
    if (before === this.seen) return;
    this.onChange();
    // Changed again while it was read: read it once more, after the quiet time.
    if (this.fingerprint() !== this.seen) this.changed();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
