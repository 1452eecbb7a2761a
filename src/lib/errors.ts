/**
 * The one error type msm throws on purpose. `code` is stable (tests and scripts match on it); `message` says what
 * went wrong and what to run next, because it is printed to a person as is.
 */
export type MsmErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_UNREADABLE"
  | "HOME_UNUSABLE"
  | "HOME_UNSAFE"
  /** MSM_HOME (or a file in it) exists but this user cannot read it: another user's, or root's after `sudo msm`. */
  | "HOME_UNREADABLE"
  | "CONFIG_UNSAFE"
  | "PROJECT_REFUSED"
  | "DATABASE_UNSAFE"
  | "DATABASE_READONLY"
  | "DATABASE_FAILED"
  | "TOKEN_UNREADABLE"
  | "LOCK_BUSY"
  | "DAEMON_START_FAILED"
  | "DAEMON_UNREACHABLE"
  | "DAEMON_FAILED"
  | "SUPERVISOR_UNREACHABLE"
  | "NOT_RUNNING"
  | "UNKNOWN_TARGET"
  | "UNKNOWN_PROFILE"
  | "PORT_BUSY"
  | "LOGIN_FAILED"
  | "INSTALL_FAILED"
  /** A target's `${VAR}`, `${secret:NAME}` or envFile could not be resolved: it does not start (the message names which). */
  | "SECRET_UNRESOLVED"
  /** The OS keychain cannot be reached (no Secret Service on D-Bus, a locked keyring). */
  | "KEYCHAIN_UNAVAILABLE"
  | "FILE_CHANGED"
  /** A file or directory the command was pointed at is missing or malformed (exit 1: the command line was fine). */
  | "INPUT_INVALID"
  /** The command line itself is wrong: an unknown flag, a missing argument (exit 2). */
  | "USAGE";

export class MsmError extends Error {
  override readonly name = "MsmError";
  constructor(
    readonly code: MsmErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isMsmError(error: unknown): error is MsmError {
  return error instanceof MsmError;
}

/** Node-style errno code of an unknown error, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

/** A mistake on the command line (unknown option or value). Named like citty's own, so the CLI prints usage advice and exits 2. */
export class UsageError extends Error {
  override readonly name = "CLIError";
}
