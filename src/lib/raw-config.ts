import { readFileSync } from "node:fs";
import { paths } from "./paths.ts";

/**
 * A target's entry in config.json as written, read without zod: the proxy's fast path needs a key or two of it
 * (`lazy`, the key material of the discovery cache) and must not pay for the validating loader (~4.5 MB, ms of
 * start) on every session. Anything unreadable → undefined: the caller then takes the validated path, which says
 * what is wrong.
 */
export function rawTargetEntry(name: string, file = paths.config()): Record<string, unknown> | undefined {
  try {
    const config = JSON.parse(readFileSync(file, "utf8")) as { targets?: Record<string, unknown> };
    const entry = config?.targets?.[name];
    return entry && typeof entry === "object" && !Array.isArray(entry) ? (entry as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A profile's entry in config.json as written (`profiles.NAME`), read without zod for the same reason; see above. */
export function rawProfileEntry(name: string, file = paths.config()): unknown {
  try {
    const config = JSON.parse(readFileSync(file, "utf8")) as { profiles?: Record<string, unknown> };
    return config?.profiles && typeof config.profiles === "object" ? config.profiles[name] : undefined;
  } catch {
    return undefined;
  }
}
