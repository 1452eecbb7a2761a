import { existsSync, readFileSync } from "node:fs";
import { win32 } from "node:path";
import { MsmError } from "../errors.ts";
import type { Platform } from "./types.ts";

/**
 * Windows: no signals, no process groups, no /proc. Process facts come from kernel32 through bun:ffi (loaded on
 * first use, never on Linux or macOS); a daemon's "group" is its process tree, ended with `taskkill /T /F`.
 */

const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
const PROCESS_VM_READ = 0x0010;
const STILL_ACTIVE = 259;

interface Kernel32 {
  OpenProcess(access: number, inherit: boolean, pid: number): number | null;
  CloseHandle(handle: number): boolean;
  GetExitCodeProcess(handle: number, code: Uint32Array): boolean;
  GetProcessTimes(handle: number, created: Uint32Array, exited: Uint32Array, kernel: Uint32Array, user: Uint32Array): boolean;
  K32GetProcessMemoryInfo(handle: number, counters: BigUint64Array, size: number): boolean;
}

let kernel32: Kernel32 | null | undefined;

function k32(): Kernel32 | null {
  if (kernel32 !== undefined) return kernel32;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols } = dlopen("kernel32.dll", {
      OpenProcess: { args: [FFIType.u32, FFIType.bool, FFIType.u32], returns: FFIType.ptr },
      CloseHandle: { args: [FFIType.ptr], returns: FFIType.bool },
      GetExitCodeProcess: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.bool },
      GetProcessTimes: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.bool },
      K32GetProcessMemoryInfo: { args: [FFIType.ptr, FFIType.ptr, FFIType.u32], returns: FFIType.bool },
    });
    kernel32 = symbols as unknown as Kernel32;
  } catch {
    kernel32 = null;
  }
  return kernel32;
}

/** Runs `use` with a handle to `pid`; undefined when the process cannot be opened (gone, or not ours). */
function withProcess<T>(pid: number, access: number, use: (api: Kernel32, handle: number) => T): T | undefined {
  const api = k32();
  if (!api) return undefined;
  const handle = api.OpenProcess(access, false, pid);
  if (!handle) return undefined;
  try {
    return use(api, handle);
  } finally {
    api.CloseHandle(handle);
  }
}

function existsByKill(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `netstat -ano -p TCP` lines: "TCP  127.0.0.1:3100  127.0.0.1:54321  ESTABLISHED  1234". */
export function parseNetstatWindows(text: string, port: number): number {
  // State names are translated on non-English Windows; a line with a real remote port that is not one of the
  // closing states counts. Over-counting only keeps an idle daemon running a little longer.
  const notOpen = new Set(["LISTENING", "TIME_WAIT", "CLOSE_WAIT", "FIN_WAIT_1", "FIN_WAIT_2", "LAST_ACK", "CLOSING", "SYN_SENT", "SYN_RECEIVED"]);
  let count = 0;
  for (const line of text.split("\n")) {
    const [proto, local, remote, state] = line.trim().split(/\s+/);
    if (proto !== "TCP" || !local?.endsWith(`:${port}`) || !remote || /:0$/.test(remote)) continue;
    if (state === "ESTABLISHED" || (state !== undefined && !notOpen.has(state))) count++;
  }
  return count;
}

/**
 * `npx`, `pnpm`, globally installed npm tools: on Windows these are .cmd batch files, which only cmd.exe runs —
 * and a shell would re-parse every argument from config.json. Find the program the shim runs and start that:
 * npm's cmd-shim files end in `"%dp0%\<script>" %*`; npm's own npx.cmd sets NPX_CLI_JS=%~dp0\... and runs it.
 */
export function resolveCmdShim(shim: string, text: string, node: () => string | null, exists: (file: string) => boolean = existsSync): string[] | undefined {
  const dir = win32.dirname(shim);
  const local = (rel: string) => win32.join(dir, rel.replace(/^\\+/, ""));
  let target: string | undefined;
  const direct = /"%(?:~dp0|dp0%)\\([^"]+?)"\s+%\*/.exec(text);
  if (direct) target = local(direct[1]!);
  if (!target) {
    const vars = new Map<string, string>();
    for (const match of text.matchAll(/SET\s+"(\w+)=%~dp0\\?([^"%]+)"/gi)) vars.set(match[1]!.toUpperCase(), match[2]!);
    const run = /^\s*"%\w+%"\s+"%(\w+)%"\s+%\*/m.exec(text);
    const rel = run ? vars.get(run[1]!.toUpperCase()) : undefined;
    if (rel) target = local(rel);
  }
  if (!target) return undefined;
  if (/\.(exe|com)$/i.test(target)) return [target];
  if (!/\.[cm]?js$/i.test(target)) return undefined;
  const besideShim = win32.join(dir, "node.exe");
  const runtime = exists(besideShim) ? besideShim : node();
  return runtime ? [runtime, target] : undefined;
}

export function resolveWindowsCommand(argv: string[], which: (name: string) => string | null = Bun.which, read = (f: string) => readFileSync(f, "utf8")): string[] {
  const [program, ...rest] = argv;
  if (!program || /\.(exe|com)$/i.test(program)) return argv;
  const found = /\.(cmd|bat)$/i.test(program) ? program : (which(program) ?? which(`${program}.cmd`));
  if (!found || !/\.(cmd|bat)$/i.test(win32.extname(found))) return argv;
  const resolved = resolveCmdShim(found, read(found), () => which("node"));
  if (!resolved) {
    throw new MsmError(
      "CONFIG_INVALID",
      `"${program}" is a batch file (${found}), which msm runs without a shell only when it is an npm shim. ` +
        `Put the program it starts in "command" of config.json (for example "node" with the script in "args").`,
    );
  }
  return [...resolved, ...rest];
}

/**
 * One argument as a program's C runtime splits its command line back into argv (CommandLineToArgvW rules): in
 * quotes, a quote escaped with a backslash, and backslashes doubled where they precede a quote or the closing one.
 */
export function quoteArgument(arg: string): string {
  return `"${arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\*)$/, "$1$1")}"`;
}

/** Characters cmd.exe treats specially on a command line; `^` makes each one plain. */
const CMD_SPECIAL = /[()[\]{}%!^"`<>&|;,=\s*?]/g;

/**
 * The command line that has cmd.exe run batch file `script` with `args` arriving as they are — `100%`,
 * `quote"inside`, `a&b`, `%PATH%`. Each argument is quoted for the program the batch file ends up starting, then
 * every special character is escaped with `^` twice: cmd.exe parses the line once (`%`-expansion, then `^` and `"`)
 * and a batch file's `%*` (npm's shims) puts the arguments through that parse again. Bun's own quoting for batch
 * files refuses such arguments outright, so the server never started. To be passed to `cmd.exe /d /s /c "<line>"`
 * verbatim (no quoting by the spawner). A line break cannot be passed through cmd.exe at all.
 */
export function batchCommandLine(script: string, args: string[]): string {
  for (const arg of args) {
    if (/[\r\n\0]/.test(arg)) {
      throw new MsmError(
        "CONFIG_INVALID",
        `An argument for ${script} holds a line break, which cmd.exe cannot pass to a batch file. Put the program the batch file starts in "command" of config.json.`,
      );
    }
  }
  const escaped = args.map((arg) => quoteArgument(arg).replace(CMD_SPECIAL, "^$&").replace(CMD_SPECIAL, "^$&"));
  // The script's own path is quoted plainly: cmd.exe finds the program by it, and a Windows path holds no quote.
  return [`"${script}"`, ...escaped].join(" ");
}

/**
 * How to start `argv` directly: an .exe as it is; a batch file (`npx` → npx.cmd, found on PATH like a shell would)
 * through cmd.exe with the command line built by batchCommandLine, which the spawner must pass verbatim.
 */
export function windowsSpawnCommand(argv: string[], which: (name: string) => string | null = Bun.which, comspec = process.env.ComSpec || "cmd.exe"): { cmd: string[]; verbatim: boolean } {
  const [program, ...rest] = argv;
  if (!program || /\.(exe|com)$/i.test(program)) return { cmd: argv, verbatim: false };
  const found = /\.(cmd|bat)$/i.test(program) ? program : which(program);
  if (!found || !/\.(cmd|bat)$/i.test(found)) return { cmd: argv, verbatim: false };
  return { cmd: [comspec, "/d", "/s", "/c", `"${batchCommandLine(found, rest)}"`], verbatim: true };
}

export const windows: Platform = {
  isAlive: (pid) => {
    const code = withProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION, (api, handle) => {
      const out = new Uint32Array(1);
      return api.GetExitCodeProcess(handle, out) ? out[0] : undefined;
    });
    // An exited process stays openable while someone holds a handle to it: its exit code tells.
    return code === undefined ? existsByKill(pid) : code === STILL_ACTIVE;
  },
  startTime: (pid) =>
    withProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION, (api, handle) => {
      const created = new Uint32Array(2);
      const scratch = () => new Uint32Array(2);
      if (!api.GetProcessTimes(handle, created, scratch(), scratch(), scratch())) return undefined;
      return ((BigInt(created[1]!) << 32n) | BigInt(created[0]!)).toString();
    }),
  // No process groups: the daemon's tree is what `taskkill /T` ends, rooted at the daemon itself.
  groupOf: (pid) => pid,
  groupMembers: () => undefined,
  groupAlive: (pgid) => windows.isAlive(pgid),
  rssBytes: (pid) =>
    withProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, (api, handle) => {
      // PROCESS_MEMORY_COUNTERS on 64-bit: cb, PageFaultCount (u32 each), then size_t fields; WorkingSetSize is [2].
      const counters = new BigUint64Array(9);
      new Uint32Array(counters.buffer)[0] = counters.byteLength;
      return api.K32GetProcessMemoryInfo(handle, counters, counters.byteLength) ? Number(counters[2]) : undefined;
    }),
  connectionsTo: (port) => {
    try {
      const result = Bun.spawnSync(["netstat", "-ano", "-p", "TCP"], { stdout: "pipe", stderr: "ignore" });
      return result.exitCode === 0 ? parseNetstatWindows(result.stdout.toString(), port) : undefined;
    } catch {
      return undefined;
    }
  },
  // Console programs cannot be asked to close (no SIGTERM): every signal ends the whole tree at once.
  signalGroup: (pgid) => {
    try {
      return Bun.spawnSync(["taskkill", "/T", "/F", "/PID", String(pgid)], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
    } catch {
      return false;
    }
  },
  resolveCommand: (argv) => resolveWindowsCommand(argv),
};
