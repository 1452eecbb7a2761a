// When config.json is read again (supervisor/config-watch.ts): after a burst of writes settles, on the stat poll
// alone where fs.watch hears nothing, and a missing file only once it stayed missing.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../../src/lib/log.ts";
import { CONFIG_ABSENT_GRACE_MS, CONFIG_DEBOUNCE_MS, ConfigWatch } from "../../../src/supervisor/config-watch.ts";
import { waitFor } from "../../helpers/sandbox.ts";

const log = createLogger({ stderr: false });

/** A watch on a fresh config.json that counts its reads (each read takes the file as seen). */
function setup() {
  const dir = mkdtempSync(join(process.env.MSM_TEST_ROOT!, "watch-"));
  const file = join(dir, "config.json");
  writeFileSync(file, "{}");
  const reads: string[] = [];
  const watch = new ConfigWatch(
    file,
    () => {
      watch.reading();
      reads.push(watch.fingerprint());
    },
    log,
  );
  watch.reading();
  return { file, watch, reads };
}

describe("config.json watch", () => {
  test("fs.watch: a burst of writes is read once, after it settles", async () => {
    const { file, watch, reads } = setup();
    watch.start();
    try {
      for (let i = 0; i < 20; i++) writeFileSync(file, JSON.stringify({ targets: {}, n: i }));
      await waitFor(() => reads.length > 0, 5_000, "a read");
      // Nothing more is coming: wait out two quiet times, then count.
      const settled = reads.length;
      await waitFor(() => reads.length === settled && watch.fingerprint() === reads.at(-1), 5_000, "the reads to settle");
      expect(reads.length).toBeLessThanOrEqual(2);
      expect(reads.at(-1)).toBe(watch.fingerprint());
    } finally {
      watch.stop();
    }
  });

  test("without fs.watch, the stat poll alone notices an in-place write and a rename over the file", async () => {
    const { file, watch, reads } = setup();
    writeFileSync(file, '{ "targets": {} }');
    watch.poll();
    await waitFor(() => reads.length === 1, 5_000, "the in-place write");
    writeFileSync(`${file}.tmp`, '{ "targets": { } }');
    renameSync(`${file}.tmp`, file);
    watch.poll();
    await waitFor(() => reads.length === 2, 5_000, "the rename");
    // Unchanged: polls read nothing.
    watch.poll();
    watch.poll();
    expect(reads.length).toBe(2);
    watch.stop();
  });

  test("a file missing for a moment (delete then create) is read once it is back; one that stays missing, after the grace", async () => {
    const { file, watch, reads } = setup();
    watch.start();
    try {
      unlinkSync(file);
      watch.poll();
      writeFileSync(file, '{ "targets": {} }');
      await waitFor(() => reads.length === 1, 5_000, "the new file");
      expect(reads[0]).not.toBe("absent");

      const gone = performance.now();
      unlinkSync(file);
      // Polls keep coming while it is missing; they must not push the read further away.
      const ticking = setInterval(() => watch.poll(), CONFIG_DEBOUNCE_MS / 3);
      try {
        await waitFor(() => reads.length === 2, 5_000, "the missing file to count as deleted");
      } finally {
        clearInterval(ticking);
      }
      expect(reads[1]).toBe("absent");
      expect(performance.now() - gone).toBeGreaterThanOrEqual(CONFIG_ABSENT_GRACE_MS - 50);
    } finally {
      watch.stop();
    }
  });

  test("settleNow reads a changed file at once, and nothing when it is unchanged or missing", () => {
    const { file, watch, reads } = setup();
    watch.settleNow();
    expect(reads.length).toBe(0);
    writeFileSync(file, '{ "targets": { "x": { "url": "http://127.0.0.1:1/mcp" } } }');
    watch.settleNow();
    expect(reads.length).toBe(1);
    unlinkSync(file);
    watch.settleNow();
    expect(reads.length).toBe(1);
    watch.stop();
  });
});
