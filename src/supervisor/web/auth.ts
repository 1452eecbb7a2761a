import { randomBytes, timingSafeEqual } from "node:crypto";

/** A login URL works once, and only for this long: it may sit in a terminal's scrollback. */
export const TICKET_TTL_MS = 2 * 60_000;
/** A browser session nobody has used for this long is forgotten (the user runs `msm ui` again). */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;
/** Sessions kept at most; the least recently used goes first. */
const MAX_SESSIONS = 32;
export const CSRF_HEADER = "x-msm-csrf";

interface Session {
  csrf: string;
  lastSeen: number;
}

function secret(): string {
  return randomBytes(32).toString("base64url");
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who may see the dashboard. A browser cannot send the bearer token, so `msm ui` (which can read it) asks for a
 * one-time ticket; the login URL trades it for a session cookie (HttpOnly: no script reads it; SameSite=Strict: no
 * other site's page sends it). Every POST also carries the session's CSRF token, which only our own page knows.
 */
export class UiAuth {
  private readonly tickets = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();

  issueTicket(now = Date.now()): string {
    for (const [ticket, expires] of this.tickets) if (expires <= now) this.tickets.delete(ticket);
    const ticket = secret();
    this.tickets.set(ticket, now + TICKET_TTL_MS);
    return ticket;
  }

  /** Spends a ticket: a new session id, or undefined when the ticket is unknown, used or expired. */
  login(ticket: string, now = Date.now()): string | undefined {
    let found: string | undefined;
    for (const known of this.tickets.keys()) if (same(known, ticket)) found = known;
    if (found === undefined) return undefined;
    const expires = this.tickets.get(found)!;
    this.tickets.delete(found);
    if (expires <= now) return undefined;
    const id = secret();
    this.sessions.set(id, { csrf: secret(), lastSeen: now });
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return id;
  }

  /** The session named by a cookie value, refreshed; undefined when unknown or idle too long. */
  session(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id) return undefined;
    let found: string | undefined;
    for (const known of this.sessions.keys()) if (same(known, id)) found = known;
    if (found === undefined) return undefined;
    const session = this.sessions.get(found)!;
    this.sessions.delete(found);
    if (now - session.lastSeen > SESSION_IDLE_MS) return undefined;
    session.lastSeen = now;
    this.sessions.set(found, session); // re-inserted: the Map stays in least-recently-used order
    return session;
  }

  csrfMatches(session: Session, given: string | undefined): boolean {
    return given !== undefined && same(session.csrf, given);
  }
}
