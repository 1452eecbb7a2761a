/**
 * A proxy runs once per editor session per server, almost always idle, and does little per message: JavaScriptCore's
 * JIT costs it more than it gives. Measured on the compiled binary (Bun 1.4.5, Linux x64, a memory session after 300
 * calls and its idle collection): with the JIT 6.1 MB private (RssAnon) and 41 MB of the binary touched (RssFile),
 * 8 threads; without it 4.2 MB, 35.7 MB and 6 threads — and a tools/call no slower (0.26–0.28 ms against 0.34–0.37 ms
 * through the proxy at load 8–10: no compiler threads compete for the 2 cores). JavaScriptCore reads its options
 * once, when the process starts, from the environment; so `msm proxy` starts itself again, in place (execve: same
 * pid, same stdin, stdout and stderr), with `BUN_JSC_useJIT=0`, before loading anything else. The second start sees
 * MSM_LEAN_PROXY and takes both variables out of its environment again: the supervisor a proxy may start, and the
 * environment a stdio host hands to a session's server, must never run without the JIT.
 *
 * Not where execve is missing (Windows), not when run from source (`bun src/index.ts`: there is no binary to start
 * again), and not when the environment already says anything about the JIT.
 */
const MARK = "MSM_LEAN_PROXY";
const JIT = "BUN_JSC_useJIT";

export function leanProxy(): void {
  if (process.env[MARK] === "1") {
    delete process.env[MARK];
    delete process.env[JIT];
    return;
  }
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => void }).execve;
  const compiled = process.argv[1]?.startsWith("/$bunfs/") === true;
  if (!execve || !compiled || process.platform === "win32" || process.env[JIT] !== undefined) return;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  env[JIT] = "0";
  env[MARK] = "1";
  try {
    execve(process.execPath, [process.execPath, ...process.argv.slice(2)], env);
  } catch {
    // It could not start itself again (the binary replaced under it, say): carry on with the JIT.
  }
}
