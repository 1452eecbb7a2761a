/**
 * The line wire between a proxy and msm's own daemons (memory, a stdio host): one connection per editor session, on a
 * Unix domain socket in MSM_HOME (loopback TCP where there is none), carrying JSON-RPC messages one per line, both
 * ways, for the session's whole life (docs/architecture.md "Wire between proxy and daemon"). Both sides import this;
 * plain data and string work only, so loading it costs a proxy nothing.
 *
 * A connection opens with one control line each way, then carries nothing but JSON-RPC lines, until the daemon,
 * stopping on purpose, ends it with a last control line:
 *
 *   proxy → daemon   {"msm":"hello","v":1,"token":"…","project":"/abs/dir","pid":123}
 *   daemon → proxy   {"msm":"welcome","v":1,"pid":456,"version":"0.1.0"}    or  {"msm":"refused","message":"…"} and close
 *   daemon → proxy   {"msm":"bye","read":N}   the daemon read the first N JSON-RPC lines after the hello and no more
 *
 * The session lives exactly as long as its connection: a proxy that dies closes it (the daemon ends the session at
 * once); a daemon that dies closes it (the proxy fails what it had sent and not been answered, and makes a new session
 * by replaying the editor's initialize). The bye tells a proxy which of its last lines a stopping daemon never read,
 * so those are resent to the next daemon rather than answered with an error.
 */

export const WIRE_VERSION = 1;

/** The first line a proxy sends: msm's token (as every HTTP request carries it), and the session's project. */
export interface WireHello {
  msm: "hello";
  v: number;
  token: string;
  /** The editor session's project folder (what `Mcp-Project-Path` says over HTTP); absent: none. */
  project?: string;
  /** The proxy's pid, for the daemon's log. */
  pid?: number;
}

/** The daemon's first line: the hello was accepted. */
export interface WireWelcome {
  msm: "welcome";
  v: number;
  pid: number;
  version: string;
}

/** The daemon refused the hello (wrong token, another wire version); it closes the connection after this line. */
export interface WireRefused {
  msm: "refused";
  message: string;
}

/** The daemon's last line when it stops on purpose: it read exactly `read` JSON-RPC lines of this connection. */
export interface WireBye {
  msm: "bye";
  read: number;
}

export type WireControl = WireHello | WireWelcome | WireRefused | WireBye;

/** Every control line starts so; a JSON-RPC message never does (it has no "msm" member, let alone first). */
export const CONTROL_PREFIX = '{"msm":';

/** Where a daemon listens for the line wire, as its lock file's `wire` field writes it: `unix:<path>` or `tcp:<port>`. */
export type WireAddress = { unix: string } | { port: number };

export function formatWireAddress(address: WireAddress): string {
  return "unix" in address ? `unix:${address.unix}` : `tcp:${address.port}`;
}

/** The address in a lock's `wire` field; undefined for anything else (the proxy then speaks HTTP). */
export function parseWireAddress(text: unknown): WireAddress | undefined {
  if (typeof text !== "string") return undefined;
  if (text.startsWith("unix:") && text.length > 5) return { unix: text.slice(5) };
  const port = /^tcp:(\d{1,5})$/.exec(text);
  if (port && Number(port[1]) > 0 && Number(port[1]) < 65536) return { port: Number(port[1]) };
  return undefined;
}

/**
 * The longest Unix socket path the platforms take (sun_path is 108 bytes on Linux, 104 on macOS, with its NUL). A
 * longer MSM_HOME gets loopback TCP instead.
 */
export const MAX_SOCKET_PATH_BYTES = 103;
