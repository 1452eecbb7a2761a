import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { connectionsTo, groupHasLiveMember, groupRssBytes, isAlive, leadsGroup, os, resolveCommand, startTicks } from "../../../src/lib/platform/index.ts";
import { parseNetstatDarwin, parsePsGroups } from "../../../src/lib/platform/darwin.ts";
import { parseProcNetTcp } from "../../../src/lib/platform/linux.ts";
import { batchCommandLine, parseNetstatWindows, quoteArgument, resolveCmdShim, resolveWindowsCommand, windowsSpawnCommand } from "../../../src/lib/platform/windows.ts";

const FIXTURES = resolve(import.meta.dir, "../../fixtures/windows");

describe("platform (this machine)", () => {
  test("a live process, its start time, its group and memory; a dead one", async () => {
    expect(isAlive(process.pid)).toBe(true);
    const start = startTicks(process.pid);
    if (process.platform !== "win32") expect(start).toBeDefined();
    expect(startTicks(process.pid)).toBe(start);

    const child = Bun.spawn(["sleep", "30"], { detached: true });
    try {
      expect(isAlive(child.pid)).toBe(true);
      expect(leadsGroup(child.pid)).toBe(true);
      expect(groupHasLiveMember(child.pid)).toBe(true);
      expect(groupRssBytes(child.pid)).toBeGreaterThan(0);
      expect(startTicks(child.pid)).toBeDefined();
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
    expect(isAlive(child.pid)).toBe(false);
    expect(groupHasLiveMember(child.pid)).toBe(false);
  }, 15_000);

  test("counts established connections to a local port", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(":\n")); } }), { headers: { "content-type": "text/event-stream" } }) });
    const controller = new AbortController();
    try {
      expect(connectionsTo(server.port!)).toBe(0);
      const response = await fetch(`http://127.0.0.1:${server.port}/`, { signal: controller.signal });
      await response.body!.getReader().read();
      // Our end and the server's end are both local; only the server's has the port as its local address.
      expect(connectionsTo(server.port!)).toBe(1);
    } finally {
      controller.abort();
      server.stop(true);
    }
  }, 15_000);

  test("commands start as given on Linux and macOS", () => {
    if (process.platform === "win32") return;
    expect(resolveCommand(["npx", "-y", "pkg"])).toEqual(["npx", "-y", "pkg"]);
  });
});

describe("platform output parsers (every OS, from captured output)", () => {
  test("Linux /proc/net/tcp", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:0C1C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0",
      "   1: 0100007F:0C1C 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1",
      "   2: 0100007F:D2F4 0100007F:0C1C 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1",
    ].join("\n");
    expect(parseProcNetTcp(text, 3100)).toBe(1);
  });

  test("macOS netstat and ps", () => {
    const netstat = [
      "Active Internet connections (including servers)",
      "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)",
      "tcp4       0      0  127.0.0.1.3100         127.0.0.1.61234        ESTABLISHED",
      "tcp4       0      0  127.0.0.1.61234        127.0.0.1.3100         ESTABLISHED",
      "tcp4       0      0  127.0.0.1.3100         127.0.0.1.61200        TIME_WAIT",
      "tcp4       0      0  127.0.0.1.3100         *.*                    LISTEN",
      "tcp4       0      0  127.0.0.1.13100        127.0.0.1.61300        ESTABLISHED",
    ].join("\n");
    expect(parseNetstatDarwin(netstat, 3100)).toBe(1);
    expect(parsePsGroups("  501   501 Ss\n  502   501 S+\n  503   501 Z\n  600   600 S\n", 501)).toEqual([501, 502]);
  });

  test("Windows netstat, English and translated", () => {
    const english = [
      "Active Connections",
      "  Proto  Local Address          Foreign Address        State           PID",
      "  TCP    127.0.0.1:3100         0.0.0.0:0              LISTENING       4242",
      "  TCP    127.0.0.1:3100         127.0.0.1:54321        ESTABLISHED     4242",
      "  TCP    127.0.0.1:54321        127.0.0.1:3100         ESTABLISHED     777",
      "  TCP    127.0.0.1:3100         127.0.0.1:54000        TIME_WAIT       0",
    ].join("\r\n");
    expect(parseNetstatWindows(english, 3100)).toBe(1);
    const german = "  TCP    127.0.0.1:3100         0.0.0.0:0              ABHÖREN         4242\r\n  TCP    127.0.0.1:3100         127.0.0.1:54321        HERGESTELLT     4242\r\n";
    expect(parseNetstatWindows(german, 3100)).toBe(1);
  });
});

describe("Windows .cmd shims resolved without a shell", () => {
  const which = (name: string) => ({ npx: "C:\\Program Files\\nodejs\\npx.cmd", node: "C:\\Program Files\\nodejs\\node.exe", "mcp-server-filesystem": "C:\\Users\\ann\\AppData\\Roaming\\npm\\mcp-server-filesystem.cmd", uvx: "C:\\Users\\ann\\.local\\bin\\uvx.exe" })[name] ?? null;
  const read = (file: string) => readFileSync(resolve(FIXTURES, file.endsWith("npx.cmd") ? "npx.cmd" : "cmd-shim.cmd"), "utf8");

  test("npm's own npx.cmd → node.exe beside it + npx-cli.js", () => {
    const argv = resolveCmdShim("C:\\Program Files\\nodejs\\npx.cmd", read("npx.cmd"), () => null, (f) => f === "C:\\Program Files\\nodejs\\node.exe");
    expect(argv).toEqual(["C:\\Program Files\\nodejs\\node.exe", "C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npx-cli.js"]);
    expect(resolveWindowsCommand(["npx", "-y", "@modelcontextprotocol/server-memory"], which, read)[2]).toBe("-y");
  });

  test("a cmd-shim for a globally installed server → node from PATH + its script", () => {
    const argv = resolveWindowsCommand(["mcp-server-filesystem", "C:\\projects\\a b"], which, read);
    expect(argv).toEqual([
      "C:\\Program Files\\nodejs\\node.exe",
      "C:\\Users\\ann\\AppData\\Roaming\\npm\\node_modules\\@modelcontextprotocol\\server-filesystem\\dist\\index.js",
      "C:\\projects\\a b",
    ]);
  });

  test("an .exe (uvx) is started as it is; an unknown batch file is a clear config error", () => {
    expect(resolveWindowsCommand(["uvx", "code-index-mcp"], which, read)).toEqual(["uvx", "code-index-mcp"]);
    expect(() => resolveWindowsCommand(["C:\\tools\\start.bat"], which, () => "@echo off\r\npython server.py %*\r\n")).toThrow(/batch file/);
  });

  test("the platform module in use is this OS's", () => {
    expect(os).toBeDefined();
  });
});

describe("a hosted batch file (npx.cmd) started through cmd.exe with its arguments intact", () => {
  // Bun refuses to quote `%` or `"` for a batch file, so such a server never started. Each argument is quoted for
  // the program the shim starts, then escaped for cmd.exe's two parses (the line, then the shim's %*). Run for real
  // under Wine's cmd.exe by npm run test:windows; here the exact text.
  test("arguments are quoted for the program, then every cmd.exe special character escaped twice", () => {
    expect(quoteArgument("plain")).toBe('"plain"');
    expect(quoteArgument('quote"inside')).toBe('"quote\\"inside"');
    expect(quoteArgument("trail\\")).toBe('"trail\\\\"');
    expect(quoteArgument('back\\"q')).toBe('"back\\\\\\"q"');
    expect(batchCommandLine("C:\\Program Files\\nodejs\\npx.cmd", ["100%", 'quote"inside', "a&b"])).toBe(
      '"C:\\Program Files\\nodejs\\npx.cmd" ^^^"100^^^%^^^" ^^^"quote\\^^^"inside^^^" ^^^"a^^^&b^^^"',
    );
  });

  test("npx on PATH is its .cmd run by cmd.exe, verbatim; an .exe is started as it is; a line break is refused", () => {
    const which = (name: string) => ({ npx: "C:\\Program Files\\nodejs\\npx.cmd", uvx: "C:\\u\\uvx.exe" })[name] ?? null;
    const started = windowsSpawnCommand(["npx", "-y", "server", "100%"], which, "C:\\Windows\\system32\\cmd.exe");
    expect(started).toEqual({
      cmd: ["C:\\Windows\\system32\\cmd.exe", "/d", "/s", "/c", '""C:\\Program Files\\nodejs\\npx.cmd" ^^^"-y^^^" ^^^"server^^^" ^^^"100^^^%^^^""'],
      verbatim: true,
    });
    expect(windowsSpawnCommand(["uvx", "a b"], which)).toEqual({ cmd: ["uvx", "a b"], verbatim: false });
    expect(windowsSpawnCommand(["C:\\u\\server.exe", "%x%"], which)).toEqual({ cmd: ["C:\\u\\server.exe", "%x%"], verbatim: false });
    expect(() => windowsSpawnCommand(["npx", "two\nlines"], which)).toThrow(/line break/);
  });
});

describe("the macOS implementation run against this machine's ps (POSIX flags, procps here)", () => {
  test("start time, group, members and memory of a detached child", async () => {
    if (process.platform === "win32" || !Bun.which("ps")) return;
    const { darwin } = await import("../../../src/lib/platform/darwin.ts");
    const child = Bun.spawn(["sleep", "30"], { detached: true });
    try {
      expect(darwin.isAlive(child.pid)).toBe(true);
      expect(darwin.startTime(child.pid)).toMatch(/\d{2}:\d{2}:\d{2}/);
      expect(darwin.startTime(child.pid)).toBe(darwin.startTime(child.pid));
      expect(darwin.groupOf(child.pid)).toBe(child.pid);
      expect(darwin.groupMembers(child.pid)).toEqual([child.pid]);
      expect(darwin.rssBytes(child.pid)).toBeGreaterThan(0);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
    expect(darwin.groupMembers(child.pid)).toEqual([]);
  }, 15_000);
});
