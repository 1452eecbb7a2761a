/**
 * When a process that died unasked is started again, and when to give up: one policy for the supervisor's daemons
 * (supervisor/keeper.ts) and a host's children. Pure bookkeeping on an injected clock; the owner keeps the timer
 * and the process.
 */
import { msmEnv } from "./env.ts";

/** Waits before restart number 1, 2, … after unasked exits in a row; one more exit than this list is a crash loop. */
export const DEFAULT_BACKOFF_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000];

/** The backoff steps: MSM_BACKOFF_MS when set (a test drives a crash loop without waiting half a minute). */
export function backoffSteps(): readonly number[] {
  return msmEnv().backoffMs ?? DEFAULT_BACKOFF_MS;
}

export interface RestartPolicyOptions {
  /** Waits before each restart of a crash loop; one more crash than steps is `failed`. */
  steps?: readonly number[];
  /**
   * A process that had run this long when it died is not crash-looping: it was unlucky (an OOM killer, a person),
   * its count starts over, and it is simply restarted however often that happens.
   */
  stableAfterMs: number;
  now?: () => number;
}

/** What to do about a crash: restart after `delayMs`, or stop trying. */
export type Verdict = { action: "restart"; delayMs: number } | { action: "fail"; crashes: number };

export class RestartPolicy {
  readonly steps: readonly number[];
  private count = 0;
  private readonly now: () => number;

  constructor(private readonly options: RestartPolicyOptions) {
    this.steps = options.steps ?? backoffSteps();
    this.now = options.now ?? Date.now;
  }

  /** Crashes in a row so far. */
  get crashes(): number {
    return this.count;
  }

  /**
   * One more crash. `runningSince`: when the process that died had come up (it ran, then died); undefined for a
   * start that failed. One that ran for `stableAfterMs` or longer starts the count over.
   */
  crashed(runningSince?: number): Verdict {
    if (runningSince !== undefined && this.now() - runningSince >= this.options.stableAfterMs) this.count = 0;
    this.count++;
    if (this.count > this.steps.length) return { action: "fail", crashes: this.count };
    return { action: "restart", delayMs: this.steps[this.count - 1]! };
  }

  /** Stopped or restarted on request: the crash loop is forgotten. */
  reset(): void {
    this.count = 0;
  }
}
