/**
 * Headers msm's own processes exchange (proxy → daemon), named once for every side. No imports: the proxy loads this
 * at start-up.
 */

/** The editor session's project folder, sent by the proxy to the memory daemon and to stdio hosts; never to a remote
 * server (the relay strips it). Written with `encodeProjectHeader`, read with `decodeProjectHeader`. */
export const PROJECT_HEADER = "mcp-project-path";

/**
 * Where the proxy puts its own environment in the editor's `initialize` (params._meta) for a stdio host: a hosted
 * child for a project or a session is started with the environment of the session that starts it, exactly what the
 * editor would have given the server directly. The host removes it before anything else sees the message; no other
 * daemon is ever sent it.
 */
export const SESSION_ENV_META = "msm/sessionEnv";

/**
 * Marks a percent-encoded UTF-8 value (RFC 8187's ext-value form). A project path is absolute, so no raw path
 * starts with it.
 */
const UTF8_PREFIX = "UTF-8''";

/**
 * An HTTP header carries bytes, not text: a folder named `Proj é` sent raw arrived as `Proj Ã©` and was refused as
 * missing, so that project had no memory (every platform; `C:\Users\José` on Windows). A path of printable ASCII,
 * with no space at either end (HTTP trims those), goes as it is — what every msm before this sent, so an older
 * daemon still understands a newer proxy for such paths; anything else goes as `UTF-8''` + percent-encoded UTF-8.
 */
export function encodeProjectHeader(path: string): string {
  if (/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(path) && !path.startsWith(UTF8_PREFIX)) return path;
  // A Windows name may hold an unpaired surrogate, which has no UTF-8 form: sent as U+FFFD, it names no folder and
  // is refused as such, never as some other folder.
  return UTF8_PREFIX + encodeURIComponent(path.toWellFormed());
}

/**
 * The project path a request names (undefined when it names none). A value that is not validly encoded comes back
 * as it was sent, for the receiver's checks (an absolute, existing, canonical folder of this user) to refuse.
 */
export function decodeProjectHeader(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!value.startsWith(UTF8_PREFIX)) return value;
  try {
    return decodeURIComponent(value.slice(UTF8_PREFIX.length));
  } catch {
    return value;
  }
}
