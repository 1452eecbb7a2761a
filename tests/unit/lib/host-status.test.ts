// A running host with a failed child is `degraded` in `msm status`, and the note says which child and why.
import { describe, expect, test } from "bun:test";
import { failedChildrenNote, type ChildStatus } from "../../../src/lib/host-status.ts";

const child = (project: string | null, state: ChildStatus["state"], note: string | null = null): ChildStatus => ({
  project,
  share: project ? "project" : "global",
  state,
  pid: null,
  uptimeSeconds: null,
  restarts: 0,
  sessions: 0,
  rssBytes: null,
  note,
  lastStderr: [],
});

describe("failedChildrenNote", () => {
  test("nothing failed: no note (the host is simply running)", () => {
    expect(failedChildrenNote(undefined)).toBeUndefined();
    expect(failedChildrenNote([])).toBeUndefined();
    expect(failedChildrenNote([child("/a", "running"), child("/b", "backoff", "exited (exit code 1); restarting in 1 s")])).toBeUndefined();
  });

  test("one failed child: which one and why", () => {
    expect(failedChildrenNote([child("/a", "running"), child("/b", "failed", "crashed 3 times in a row; last: exit code 3")])).toBe(
      "the child for /b failed: crashed 3 times in a row; last: exit code 3",
    );
    expect(failedChildrenNote([child(null, "failed")])).toBe("the global child failed: it keeps exiting");
  });

  test("several: how many of how many, each with its reason", () => {
    expect(failedChildrenNote([child("/a", "failed", "x"), child("/b", "running"), child("/c", "failed", "y")])).toBe(
      "2 of 3 children failed: the child for /a failed: x; the child for /c failed: y",
    );
  });
});
