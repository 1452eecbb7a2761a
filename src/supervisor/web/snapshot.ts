import type { SupervisorStatus } from "../../lib/contracts/supervisor-api.ts";

/** A snapshot younger than this is served as is: many open tabs cost one status probe, not one each. */
export const SNAPSHOT_MAX_AGE_MS = 2_000;
/** One history point per target this often… */
export const SAMPLE_EVERY_MS = 5_000;
/** …kept this long (the sparklines' width). */
export const HISTORY_MS = 10 * 60_000;
/** Sampling goes on in the background only while someone looked at the page this recently. */
const VIEWER_RECENT_MS = 10 * 60_000;

export interface Sample {
  /** ms since epoch */
  t: number;
  rssBytes: number | null;
  requests: number | null;
  sessions: number | null;
}

export interface Snapshot {
  at: number;
  status: SupervisorStatus;
  /** Recent samples per target name, oldest first. */
  history: Record<string, Sample[]>;
}

/**
 * The status view's data: the supervisor's status, cached for SNAPSHOT_MAX_AGE_MS with one refresh in flight at a
 * time, plus a short per-target history for the sparklines, sampled every SAMPLE_EVERY_MS while a viewer is around.
 */
export class StatusSnapshots {
  private current: Snapshot | undefined;
  private refreshing: Promise<Snapshot> | undefined;
  private readonly history = new Map<string, Sample[]>();
  private lastViewer = 0;
  private readonly sampler: Timer;

  constructor(private readonly status: () => Promise<SupervisorStatus>) {
    this.sampler = setInterval(() => {
      if (Date.now() - this.lastViewer < VIEWER_RECENT_MS) void this.refresh().catch(() => {});
    }, SAMPLE_EVERY_MS);
    this.sampler.unref();
  }

  /** What a viewer gets: the cached snapshot when fresh, else one shared refresh. */
  async get(now = Date.now()): Promise<Snapshot> {
    this.lastViewer = now;
    if (this.current && now - this.current.at < SNAPSHOT_MAX_AGE_MS) return this.current;
    return this.refresh();
  }

  private refresh(): Promise<Snapshot> {
    this.refreshing ??= this.status()
      .then((status) => {
        const at = Date.now();
        this.record(status, at);
        this.current = { at, status, history: Object.fromEntries(this.history) };
        return this.current;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private record(status: SupervisorStatus, at: number): void {
    for (const target of status.targets) {
      const samples = this.history.get(target.name) ?? [];
      const last = samples.at(-1);
      // A refresh for a viewer between two sample times updates the last point instead of crowding the line.
      const point = { t: at, rssBytes: target.rssBytes, requests: target.requests, sessions: target.sessions };
      if (last && at - last.t < SAMPLE_EVERY_MS - 250) samples[samples.length - 1] = { ...point, t: last.t };
      else samples.push(point);
      while (samples.length && at - samples[0]!.t > HISTORY_MS) samples.shift();
      this.history.set(target.name, samples);
    }
  }

  dispose(): void {
    clearInterval(this.sampler);
  }
}
