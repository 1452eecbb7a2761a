import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createFileExclusive } from "./fsutil.ts";
import { MsmError, errnoCode } from "./errors.ts";
import { ensureHome, paths } from "./paths.ts";
import { tightenMode } from "./trust.ts";

const TOKEN_BYTES = 32;

/**
 * The bearer secret every msm daemon demands. Created on first use with exclusive create, so two processes racing
 * here agree on one token (the loser reads the winner's). Always 0600.
 */
export function loadToken(): string {
  ensureHome();
  const file = paths.token();
  const existing = readToken(file);
  if (existing) return existing;
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  // Exclusive and atomic: a racing reader never sees a half-written token and exactly one writer wins.
  try {
    createFileExclusive(file, token + "\n", 0o600);
    return token;
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") {
      throw new MsmError("TOKEN_UNREADABLE", `Cannot create ${file} (${errnoCode(error) ?? String(error)}).`, { cause: error });
    }
  }
  const raced = readToken(file);
  if (raced) return raced;
  throw new MsmError("TOKEN_UNREADABLE", `${file} exists but is empty. Delete it; msm will create a new one.`);
}

function readToken(file: string): string | undefined {
  try {
    const text = readFileSync(file, "utf8").trim();
    if (text === "") return undefined;
    tightenMode(file, 0o600);
    return text;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw new MsmError("TOKEN_UNREADABLE", `Cannot read ${file} (${errnoCode(error) ?? String(error)}).`, { cause: error });
  }
}
