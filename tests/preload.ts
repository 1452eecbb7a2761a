// Runs before any test file or source module: every path msm derives from HOME or MSM_HOME lands in a temp dir,
// so no test can read or write the real user's state, memory database or token.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, setDefaultTimeout } from "bun:test";

const root = mkdtempSync(join(tmpdir(), "msm-test-"));
process.env.HOME = join(root, "home");
process.env.MSM_HOME = join(root, "home", ".mcp-session-manager");
process.env.MSM_TEST_ROOT = root;
delete process.env.CLAUDE_PROJECT_DIR;
delete process.env.MSM_PROJECT_DIR;
delete process.env.MEMORY_FILE_PATH;

// Bun 1.4.5 ignores bunfig.toml's `[test] timeout`: without this every test runs under 5 s, which e2e tests that
// spawn real daemons overrun on a busy 2-core machine. Tests that need more pass their own.
export const DEFAULT_TEST_TIMEOUT_MS = 60_000;
setDefaultTimeout(DEFAULT_TEST_TIMEOUT_MS);

// A test that timed out never left its `await using` scope: whatever its sandboxes started is killed here,
// so no loop or process outlives the test that owns it (the awaits it hangs on then fail and it unwinds).
beforeEach(async () => {
  const { beginTest } = await import("./helpers/sandbox.ts");
  beginTest();
});
afterEach(async () => {
  const { cleanupLeftovers } = await import("./helpers/sandbox.ts");
  await cleanupLeftovers();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
