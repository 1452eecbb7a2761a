import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { loadConfig, targetNames } from "../../lib/config.ts";
import { isMsmError } from "../../lib/errors.ts";
import { toolsReport } from "../../lib/tool-costs.ts";
import type { Supervisor } from "../supervisor.ts";
import appJs from "./assets/app.js" with { type: "text" };
import indexHtml from "./assets/index.html" with { type: "text" };
import styleCss from "./assets/style.css" with { type: "text" };
import { CSRF_HEADER, UiAuth, SESSION_IDLE_MS } from "./auth.ts";
import { ExplorerClient } from "./explorer-client.ts";
import { StatusSnapshots } from "./snapshot.ts";

/** Most log lines the log tail fetches at once. */
const MAX_LOG_LINES = 2_000;

/**
 * No inline script or style, nothing from anywhere but this origin, no framing: a page that shows process lists
 * and memory contents gives an injected string nothing to run and nowhere to send it.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const LOGGED_IN = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>msm</title><p>Logged in. <a href="/">Open the dashboard</a>.</p>`;

/** The parts of the supervisor the dashboard uses: the same calls the manager API makes for `msm status/stop/restart/logs`. */
export type UiSupervisor = Pick<Supervisor, "status" | "stop" | "restart" | "logs" | "port">;

/**
 * The dashboard: served by the supervisor on its own port, loaded (with its assets) only when a UI path is first
 * requested; SQLite is opened in a worker thread, on the first explorer query. Everything but the login URL needs the session cookie; nothing answers a foreign Host (DNS
 * rebinding) or a foreign Origin.
 */
export function createUi(supervisor: UiSupervisor) {
  const auth = new UiAuth();
  const snapshots = new StatusSnapshots(() => supervisor.status());
  const explorer = new ExplorerClient();
  const cookieName = () => `msm_ui_${supervisor.port}`;
  const app = new Hono<{ Variables: { csrf: string } }>();

  const refuse = (text: string, status: 401 | 403 | 404) => {
    const response = new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) response.headers.set(k, v);
    return response;
  };

  app.use("*", async (c, next) => {
    const port = supervisor.port;
    const host = c.req.header("host") ?? "";
    // Exact names only: a rebinding attacker's page reaches 127.0.0.1 under its own host name, which fails here.
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return refuse("forbidden host", 403);
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== `http://${host}`) return refuse("forbidden origin", 403);
    // Another local port is the same *site* (SameSite cookies go along) but another origin: only our own pages
    // ("same-origin") and the user's own navigation ("none": a typed URL, a bookmark) may ask.
    // The login link itself may be followed from anywhere (a chat, a web terminal): it only spends a ticket.
    const fetchSite = c.req.header("sec-fetch-site");
    const loginNavigation = c.req.path === "/ui/login" && c.req.method === "GET";
    if (!loginNavigation && fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none")
      return refuse("forbidden cross-origin request", 403);
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });

  app.get("/ui/login", (c) => {
    const session = auth.login(c.req.query("t") ?? "");
    if (!session) return refuse(`This login link was used already or has expired. Run "msm ui" for a new one.`, 401);
    setCookie(c, cookieName(), session, { httpOnly: true, sameSite: "Strict", path: "/", maxAge: SESSION_IDLE_MS / 1000 });
    // A page that moves on by itself rather than a redirect: a redirect keeps the navigation's origin, and when the
    // link was clicked on another site the browser would withhold the SameSite=Strict cookie on arrival.
    return c.html(LOGGED_IN);
  });

  // Every other path: a session, and for a POST also our Origin and the session's CSRF token.
  app.use("*", async (c, next) => {
    const session = auth.session(getCookie(c, cookieName()));
    if (!session) return refuse(`Not logged in. Run "msm ui" for a login link.`, 401);
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      if (c.req.header("origin") === undefined || !auth.csrfMatches(session, c.req.header(CSRF_HEADER))) return refuse("missing origin or CSRF token", 403);
    }
    c.set("csrf", session.csrf);
    await next();
  });

  app.get("/", (c) => c.html((indexHtml as unknown as string).replace("{{CSRF}}", c.get("csrf"))));
  app.get("/ui/app.js", (c) => c.body(appJs, 200, { "content-type": "text/javascript; charset=utf-8" }));
  app.get("/ui/style.css", (c) => c.body(styleCss, 200, { "content-type": "text/css; charset=utf-8" }));

  app.get("/ui/api/status", async (c) => c.json(await snapshots.get()));
  app.get("/ui/api/logs/:name", (c) => {
    const lines = Math.min(MAX_LOG_LINES, Math.max(0, Number(c.req.query("lines") ?? 200) || 0));
    return c.json({ lines: supervisor.logs(c.req.param("name"), lines) });
  });
  // Every target's tools with their estimated tokens, hidden ones marked (what `msm status --tools --json` prints).
  app.get("/ui/api/tools", (c) => c.json(toolsReport(targetNames(loadConfig()))));
  app.post("/ui/api/daemons/:name/stop", async (c) => c.json(await supervisor.stop(c.req.param("name"))));
  app.post("/ui/api/daemons/:name/restart", async (c) => c.json(await supervisor.restart(c.req.param("name"))));

  app.get("/ui/api/databases", async (c) => c.json(await explorer.databases()));
  app.get("/ui/api/search", async (c) => {
    const found = await explorer.search(c.req.query("db") ?? "", c.req.query("q") ?? "", Math.max(0, Number(c.req.query("offset")) || 0));
    return found ? c.json(found) : notFound(c, "no such database");
  });
  app.get("/ui/api/entity", async (c) => {
    const entity = await explorer.entity(c.req.query("db") ?? "", c.req.query("name") ?? "");
    return entity ? c.json(entity) : notFound(c, "no such entity");
  });
  app.get("/ui/api/graph", async (c) => {
    const graph = await explorer.graph(c.req.query("db") ?? "", c.req.query("name") ?? "", Number(c.req.query("max")) || undefined);
    return graph ? c.json(graph) : notFound(c, "no such entity");
  });

  app.notFound((c) => notFound(c, "not found"));
  app.onError((error, c) => {
    if (isMsmError(error)) return c.json({ code: error.code, message: error.message }, error.code === "UNKNOWN_TARGET" ? 404 : 503);
    return c.json({ code: "INTERNAL", message: `msm dashboard: ${error.message}` }, 500);
  });

  return {
    fetch: (request: Request) => app.fetch(request),
    /** A one-time login URL (asked for by `msm ui` over the bearer-authenticated manager API). */
    loginUrl: () => `http://127.0.0.1:${supervisor.port}/ui/login?t=${auth.issueTicket()}`,
    dispose: () => {
      snapshots.dispose();
      explorer.dispose();
    },
  };
}

function notFound(c: Context, message: string) {
  return c.json({ code: "NOT_FOUND", message }, 404);
}
