/**
 * msm's entries in the OS keychain, through Bun.secrets: macOS Keychain, libsecret on Linux (GNOME Keyring, KWallet
 * or any Secret Service, over the session's D-Bus), Windows Credential Manager. Loaded only by what resolves or
 * manages `${secret:NAME}` (a host, the supervisor, `msm secret`), never by the proxy.
 *
 * The keychain cannot list one service's entries, so the names `msm secret set` stored are kept in
 * MSM_HOME/secrets.json — names and dates only, never a value.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MsmError, errnoCode } from "../errors.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { ensureHome, msmHome } from "../paths.ts";
import { SECRET_NAME } from "./references.ts";

/** The keychain "service" every msm entry is filed under (what Keychain Access or Seahorse shows). */
export const KEYCHAIN_SERVICE = "mcp-session-manager";

/** What `msm secret list` knows about a name it stored. */
export interface StoredName {
  name: string;
  setAt: string;
}

export const secretsIndexPath = () => join(msmHome(), "secrets.json");

/** The value of keychain entry `name`, or undefined when there is none. Throws KEYCHAIN_UNAVAILABLE. */
export async function getSecret(name: string): Promise<string | undefined> {
  checkName(name);
  try {
    return (await Bun.secrets.get({ service: KEYCHAIN_SERVICE, name })) ?? undefined;
  } catch (error) {
    throw unavailable(error);
  }
}

/** Stores `value` as keychain entry `name` (replacing any), and remembers the name for `msm secret list`. */
export async function setSecret(name: string, value: string): Promise<void> {
  checkName(name);
  if (value === "") throw new MsmError("INPUT_INVALID", `The value for "${name}" is empty; nothing was stored.`);
  try {
    await Bun.secrets.set({ service: KEYCHAIN_SERVICE, name, value });
  } catch (error) {
    throw unavailable(error);
  }
  const names = readIndex().filter((n) => n.name !== name);
  writeIndex([...names, { name, setAt: new Date().toISOString() }]);
}

/** Removes keychain entry `name`; false when there was none. */
export async function deleteSecret(name: string): Promise<boolean> {
  checkName(name);
  let deleted: boolean;
  try {
    deleted = await Bun.secrets.delete({ service: KEYCHAIN_SERVICE, name });
  } catch (error) {
    throw unavailable(error);
  }
  const names = readIndex();
  if (names.some((n) => n.name === name)) writeIndex(names.filter((n) => n.name !== name));
  return deleted;
}

/** The names `msm secret set` stored through this MSM_HOME, oldest first. */
export function storedNames(): StoredName[] {
  return readIndex();
}

function checkName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new MsmError("USAGE", `"${name}" is not a keychain entry name: use letters, digits, ".", "_" and "-", starting with a letter or digit.`);
  }
}

function readIndex(): StoredName[] {
  try {
    const parsed = JSON.parse(readFileSync(secretsIndexPath(), "utf8")) as { names?: unknown };
    if (!Array.isArray(parsed.names)) return [];
    return parsed.names.filter(
      (n): n is StoredName => !!n && typeof n === "object" && typeof n.name === "string" && SECRET_NAME.test(n.name) && typeof n.setAt === "string",
    );
  } catch (error) {
    if (errnoCode(error) === "ENOENT" || error instanceof SyntaxError) return [];
    throw error;
  }
}

function writeIndex(names: StoredName[]): void {
  ensureHome();
  writeFileAtomic(secretsIndexPath(), `${JSON.stringify({ names }, null, 2)}\n`);
}

/**
 * The keychain could not be reached (no Secret Service on the bus, a locked keyring, no D-Bus at all): what the
 * platform said, and what to do instead. The platform's words name no value.
 */
export class KeychainUnavailable extends MsmError {
  constructor(
    /** The platform's own words. */
    readonly said: string,
  ) {
    super("KEYCHAIN_UNAVAILABLE", `the keychain cannot be used (${said}). ${KEYCHAIN_HINT[process.platform] ?? KEYCHAIN_HINT.linux}`);
  }
}

function unavailable(error: unknown): MsmError {
  return new KeychainUnavailable((error instanceof Error ? error.message : String(error)).trim());
}

const KEYCHAIN_HINT: Record<string, string> = {
  linux:
    "On Linux msm uses libsecret over D-Bus: it needs a Secret Service (GNOME Keyring, KWallet, KeePassXC), unlocked, on the session bus that " +
    "DBUS_SESSION_BUS_ADDRESS names (the supervisor keeps the value it was started with). Without one, use ${VAR} or envFile instead.",
  darwin: "On macOS msm uses the login keychain: unlock it (Keychain Access), or allow msm when macOS asks.",
  win32: "On Windows msm uses the Credential Manager of the logged-in user.",
};
