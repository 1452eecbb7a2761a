import type { Hono } from "hono";
import { createBaseApp } from "../lib/http/app.ts";
import { ROUTES, type RouteAnswers } from "../lib/contracts/supervisor-api.ts";
import { isMsmError } from "../lib/errors.ts";
import type { Supervisor } from "./supervisor.ts";
import { dashboard } from "./web/mount.ts";

/** Most lines `GET /daemons/:name/logs` returns at once. */
const MAX_LOG_LINES = 10_000;

/**
 * The manager API (127.0.0.1 only, bearer token on everything but /health): the routes of
 * lib/contracts/supervisor-api.ts, each answer checked against its type there. Failures answer `{code, message}`:
 * callers turn them back into the MsmError the supervisor raised, message intact.
 */
export function createManagerApp(supervisor: Supervisor, token: string): Hono {
  const ui = dashboard(supervisor);
  const app = createBaseApp(token, ui.mount);

  app.get(ROUTES.status.path, async (c) => c.json((await supervisor.status()) satisfies RouteAnswers["status"]));

  app.post(ROUTES.ensure.path, async (c) => {
    const timeoutMs = Number(c.req.query("timeoutMs")) || undefined;
    const passive = c.req.query("passive") === "1";
    return c.json((await supervisor.ensure(c.req.param("name"), timeoutMs, { passive })) satisfies RouteAnswers["ensure"]);
  });

  app.post(ROUTES.stop.path, async (c) => c.json((await supervisor.stop(c.req.param("name"))) satisfies RouteAnswers["stop"]));

  app.post(ROUTES.restart.path, async (c) => {
    const project = c.req.query("project");
    if (project) return c.json((await supervisor.restartChild(c.req.param("name"), project)) satisfies RouteAnswers["restart"]);
    return c.json((await supervisor.restart(c.req.param("name"))) satisfies RouteAnswers["restart"]);
  });

  app.get(ROUTES.logs.path, (c) => {
    const lines = Math.min(MAX_LOG_LINES, Math.max(0, Number(c.req.query("lines") ?? 100) || 0));
    return c.json({ lines: supervisor.logs(c.req.param("name"), lines) } satisfies RouteAnswers["logs"]);
  });

  app.get(ROUTES.target.path, (c) => c.json({ target: supervisor.target(c.req.param("name")) } satisfies RouteAnswers["target"]));

  app.post(ROUTES.uiLogin.path, async (c) => c.json({ url: await ui.loginUrl() } satisfies RouteAnswers["uiLogin"]));

  app.post(ROUTES.shutdown.path, async (c) => {
    const stopped = await supervisor.stopAll();
    setTimeout(() => supervisor.exit("shutdown requested"), 50).unref?.();
    return c.json({ stopped } satisfies RouteAnswers["shutdown"]);
  });

  app.onError((error, c) => {
    if (isMsmError(error)) {
      const status =
        error.code === "UNKNOWN_TARGET"
          ? 404
          : error.code === "NOT_RUNNING"
            ? 409
            : error.code === "CONFIG_INVALID" || error.code === "CONFIG_UNSAFE"
              ? 422
              : 503;
      return c.json({ code: error.code, message: error.message }, status);
    }
    return c.json({ code: "INTERNAL", message: `msm supervisor: ${error.message}` }, 500);
  });
  return app;
}
