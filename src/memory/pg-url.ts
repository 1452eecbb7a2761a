import { fstatSync, openSync, readFileSync, closeSync, constants } from "node:fs";
import { join } from "node:path";
import { MsmError } from "../lib/errors.ts";
import { userHome } from "../lib/paths.ts";
import { POSIX_MODES } from "../lib/trust.ts";

/**
 * A PostgreSQL server msm keeps memory in. `display` is what logs, `msm status`, `memory_stats` and error messages
 * show: the URL without password or query (a password may sit in either). The password itself is only ever handed
 * to the client; `redact()` scrubs it from any text that might have picked it up (a driver's error message).
 */
export interface PgTarget {
  display: string;
  hostname: string;
  port: number;
  username: string;
  database: string;
  password: string | undefined;
  /** libpq's sslmode (`disable` … `verify-full`), honoured by Bun's client; absent = Bun's default. */
  sslmode: string | undefined;
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/** The URL the daemon uses: MSM_MEMORY_DATABASE_URL, else `targets.memory.database`; undefined = SQLite. */
export function configuredDatabaseUrl(fromConfig: string | undefined, env: Record<string, string | undefined> = process.env): string | undefined {
  const fromEnv = env.MSM_MEMORY_DATABASE_URL?.trim();
  return fromEnv ? fromEnv : fromConfig?.trim() || undefined;
}

export function parsePgUrl(text: string, env: Record<string, string | undefined> = process.env): PgTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MsmError("INPUT_INVALID", "The memory database URL is not a valid URL. Write it as postgres://user@host:5432/database (password from PGPASSWORD or ~/.pgpass).");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new MsmError("INPUT_INVALID", `The memory database URL must start with postgres:// or postgresql://, not ${url.protocol}//.`);
  }
  const hostname = (decodeURIComponent(url.hostname.replace(/^\[|\]$/g, "")) || env.PGHOST || "localhost").toLowerCase();
  const port = url.port ? Number(url.port) : Number(env.PGPORT ?? 5432);
  const username = decodeURIComponent(url.username) || env.PGUSER || env.USER || "postgres";
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || env.PGDATABASE || username;
  const sslmode = url.searchParams.get("sslmode") ?? env.PGSSLMODE ?? undefined;
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    throw new MsmError("INPUT_INVALID", `sslmode=${sslmode} is not one of ${SSL_MODES.join(", ")}.`);
  }
  const password = url.password ? decodeURIComponent(url.password) : env.PGPASSWORD || pgpassLookup(hostname, port, database, username, env);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const display = `postgres://${encodeURIComponent(username)}@${host}:${port}/${encodeURIComponent(database)}`;
  return { display, hostname, port, username, database, password, sslmode };
}

/** Removes the password (plain and URL-encoded) from a text before anyone sees it. */
export function redact(text: string, target: Pick<PgTarget, "password">): string {
  const secret = target.password;
  if (!secret) return text;
  let out = text.split(secret).join("***");
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join("***");
  return out;
}

/**
 * libpq's password file (`PGPASSFILE`, else ~/.pgpass, on Windows %APPDATA%\postgresql\pgpass.conf):
 * `host:port:db:user:password` lines, `*` matching anything, `\` escaping `:` and `\`. Like libpq, a file others can
 * read is ignored — where modes mean something (libpq checks none on Windows either).
 */
function pgpassLookup(hostname: string, port: number, database: string, username: string, env: Record<string, string | undefined>): string | undefined {
  const file = env.PGPASSFILE || (process.platform === "win32" && env.APPDATA ? join(env.APPDATA, "postgresql", "pgpass.conf") : join(userHome(), ".pgpass"));
  let text: string;
  try {
    const fd = openSync(file, constants.O_RDONLY);
    try {
      if (POSIX_MODES && fstatSync(fd).mode & 0o077) return undefined;
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const wanted = [hostname, String(port), database, username];
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const fields: string[] = [];
    let field = "";
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (c === "\\" && i + 1 < line.length) field += line[++i];
      else if (c === ":" && fields.length < 4) {
        fields.push(field);
        field = "";
      } else field += c;
    }
    fields.push(field);
    if (fields.length !== 5) continue;
    const matches = wanted.every((value, i) => fields[i] === "*" || fields[i] === value || (i === 0 && fields[i] === "localhost" && value === "127.0.0.1"));
    if (matches) return fields[4];
  }
  return undefined;
}
