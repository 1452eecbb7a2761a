import { expect, test } from "bun:test";
import { DEFAULT_BACKOFF_MS, RestartPolicy } from "../../../src/lib/restart-policy.ts";

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

test("crashes in a row wait each step in turn, then one more is a crash loop: failed", () => {
  const time = clock();
  const policy = new RestartPolicy({ steps: [10, 20, 40], stableAfterMs: 5_000, now: time.now });
  const verdicts = [];
  for (let i = 0; i < 4; i++) {
    const since = time.now();
    time.advance(100); // ran 100 ms, then died: early
    verdicts.push(policy.crashed(since));
  }
  expect(verdicts).toEqual([
    { action: "restart", delayMs: 10 },
    { action: "restart", delayMs: 20 },
    { action: "restart", delayMs: 40 },
    { action: "fail", crashes: 4 },
  ]);
  expect(policy.crashes).toBe(4);
});

test("a process that ran for stable-after before dying starts the count over", () => {
  const time = clock();
  const policy = new RestartPolicy({ steps: [10, 20], stableAfterMs: 5_000, now: time.now });
  expect(policy.crashed(time.now())).toEqual({ action: "restart", delayMs: 10 });
  expect(policy.crashed(time.now())).toEqual({ action: "restart", delayMs: 20 });
  const since = time.now();
  time.advance(4_999);
  expect(policy.crashed(since)).toEqual({ action: "fail", crashes: 3 });

  const again = new RestartPolicy({ steps: [10, 20], stableAfterMs: 5_000, now: time.now });
  again.crashed(time.now());
  again.crashed(time.now());
  const up = time.now();
  time.advance(5_000);
  // Exactly stable-after: unlucky, not broken.
  expect(again.crashed(up)).toEqual({ action: "restart", delayMs: 10 });
});

test("a failed start (no running time) always counts; reset forgets the loop", () => {
  const time = clock();
  const policy = new RestartPolicy({ steps: [1], stableAfterMs: 10, now: time.now });
  time.advance(1_000_000);
  expect(policy.crashed()).toEqual({ action: "restart", delayMs: 1 });
  expect(policy.crashed()).toEqual({ action: "fail", crashes: 2 });
  policy.reset();
  expect(policy.crashes).toBe(0);
  expect(policy.crashed()).toEqual({ action: "restart", delayMs: 1 });
});

test("the steps come from MSM_BACKOFF_MS when it parses, else the defaults", () => {
  const saved = process.env.MSM_BACKOFF_MS;
  try {
    process.env.MSM_BACKOFF_MS = "5,0,7";
    expect(new RestartPolicy({ stableAfterMs: 1 }).steps).toEqual([5, 0, 7]);
    process.env.MSM_BACKOFF_MS = "5,x";
    expect(new RestartPolicy({ stableAfterMs: 1 }).steps).toEqual(DEFAULT_BACKOFF_MS);
    delete process.env.MSM_BACKOFF_MS;
    expect(new RestartPolicy({ stableAfterMs: 1 }).steps).toEqual(DEFAULT_BACKOFF_MS);
  } finally {
    if (saved === undefined) delete process.env.MSM_BACKOFF_MS;
    else process.env.MSM_BACKOFF_MS = saved;
  }
});
