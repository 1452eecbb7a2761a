// Runs before any test file or source module: every path msm derives from HOME or MSM_HOME lands in a temp dir,
// so no test can read or write the real user's state, memory database or token.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";

const root = mkdtempSync(join(tmpdir(), "msm-test-"));
process.env.HOME = join(root, "home");
process.env.MSM_HOME = join(root, "home", ".mcp-session-manager");
process.env.MSM_TEST_ROOT = root;
delete process.env.CLAUDE_PROJECT_DIR;
delete process.env.MSM_PROJECT_DIR;
delete process.env.MEMORY_FILE_PATH;

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
