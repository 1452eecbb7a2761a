/**
 * The environment msm's long-lived processes run with. The supervisor is started by whichever editor session needs it
 * first, and every daemon by the supervisor: inheriting that session's whole environment would hand one project's
 * tokens (direnv, per-project secrets) to every daemon and every shared server of every other project. They get only
 * this base set — what finding programs, files, locale, temp space and the network needs — plus msm's own `MSM_*`
 * settings. A hosted child for a project or a session gets the environment of the session that starts it instead
 * (the proxy sends it; see SESSION_ENV_META), as the editor would have given it directly.
 */

/** Variables passed by name. Case matters on POSIX; on Windows names are matched without case. */
export const BASE_ENV_NAMES = [
  // where programs and files are
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TMP", "TEMP",
  // language and time
  "LANG", "LANGUAGE", "TZ",
  // the network: proxies and certificate stores a server needs to reach anything
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
  "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
  // a person's desktop: the browser for a login, the keychain (libsecret over D-Bus)
  "BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS",
  // Windows: what its programs cannot start without
  "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA",
  "PROGRAMFILES", "PROGRAMFILES(X86)", "COMMONPROGRAMFILES", "USERPROFILE", "USERNAME", "HOMEDRIVE", "HOMEPATH",
  "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "OS",
] as const;

/** Variables passed by prefix: locale categories, the XDG folders, and msm's own settings. */
export const BASE_ENV_PREFIXES = ["LC_", "XDG_", "MSM_"] as const;

const windows = process.platform === "win32";
const names = new Set<string>(windows ? BASE_ENV_NAMES.map((n) => n.toUpperCase()) : BASE_ENV_NAMES);

/** Is this variable part of the base set? */
export function inBaseEnv(name: string): boolean {
  const key = windows ? name.toUpperCase() : name;
  return names.has(key) || BASE_ENV_PREFIXES.some((prefix) => key.startsWith(prefix));
}

/** The base set taken from `env`. */
export function baseEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && inBaseEnv(name)) out[name] = value;
  return out;
}

/**
 * An environment without the marker msm sets on the processes it starts (MSM_DETACHED): what a server would see had
 * the editor started it itself. The user's own `MSM_*` settings stay, as they would.
 */
export function withoutMsmMarkers(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && name !== "MSM_DETACHED") out[name] = value;
  return out;
}
