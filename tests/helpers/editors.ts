import { MSM, requireBinary, type Sandbox } from "./sandbox.ts";

/** The sandbox environment without the variables that would move an editor's files elsewhere. */
export function editorEnv(sandbox: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  const env = { ...sandbox.env, ...extra };
  for (const key of ["XDG_CONFIG_HOME", "CODEX_HOME", "CLAUDE_CONFIG_DIR", "APPDATA", "NO_COLOR", "FORCE_COLOR"]) delete env[key];
  return env;
}

/** Runs `dist/msm ARGS` in `cwd` as a person would (install's project scope is the current folder). */
export function run(sandbox: Sandbox, args: string[], cwd: string, extra: Record<string, string> = {}) {
  requireBinary();
  const result = Bun.spawnSync([MSM, ...args], { env: editorEnv(sandbox, extra), cwd, stdin: "ignore" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}
