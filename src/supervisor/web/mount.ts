import type { Hono } from "hono";
import type { UiSupervisor } from "./app.ts";

/** Paths the dashboard answers; everything else stays the bearer-token manager API. */
const UI_PATHS = ["/", "/ui/*"];

/**
 * The dashboard's hook into the manager API. Nothing of it — assets, SQLite, the explorer — is loaded until a UI
 * path is requested or `msm ui` asks for a login URL: a supervisor nobody looks at pays nothing for it.
 */
export function dashboard(supervisor: UiSupervisor) {
  let ui: Promise<ReturnType<typeof import("./app.ts").createUi>> | undefined;
  const load = () => (ui ??= import("./app.ts").then((m) => m.createUi(supervisor)));
  return {
    /** Mounted before the bearer guard: a browser cannot send the token; the dashboard checks its own cookie. */
    mount(app: Hono): void {
      for (const path of UI_PATHS) app.all(path, async (c) => (await load()).fetch(c.req.raw));
    },
    loginUrl: async () => (await load()).loginUrl(),
  };
}
