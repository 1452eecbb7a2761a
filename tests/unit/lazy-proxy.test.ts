import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Every module reachable from `entry` through static imports (what loading it costs). */
function staticGraph(entry: string): Set<string> {
  const transpiler = new Bun.Transpiler({ loader: "ts" });
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.startsWith("/")) return;
    for (const { path, kind } of transpiler.scanImports(readFileSync(file, "utf8"))) {
      if (kind !== "import-statement") continue;
      visit(path.startsWith(".") ? resolve(dirname(file), path) : path);
    }
  };
  visit(entry);
  return seen;
}

test("proxy mode never loads SQLite, Hono or the memory server", () => {
  const src = join(import.meta.dir, "../../src");
  // ensure.ts is what a proxy loads (dynamically) to start or find a daemon; it must stay as light.
  const entries = ["proxy/index.ts", "cli/commands/proxy.ts", "cli/main.ts", "lib/ensure.ts", "lib/config.ts"];
  const graph = entries.flatMap((entry) => [...staticGraph(join(src, entry))]);
  const offenders = graph.filter(
    (m) =>
      m === "bun:sqlite" ||
      m === "hono" ||
      m.startsWith("hono/") ||
      m.includes("/src/memory/") ||
      m.includes("/src/supervisor/") ||
      m.includes("/src/install/") ||
      m.includes("/server/") ||
      // Secret references are resolved where a server starts, never in the proxy: only their syntax is checked there.
      (m.includes("/src/lib/secrets/") && !m.endsWith("/secrets/references.ts")),
  );
  expect(offenders).toEqual([]);
});

test("the dashboard (its assets, SQLite, the explorer) loads only when the UI is asked for", () => {
  const src = join(import.meta.dir, "../../src");
  const dashboard = (m: string) => m.includes("/src/supervisor/web/") && !m.endsWith("/web/mount.ts");
  // Proxy mode: nothing of it.
  const proxy = ["proxy/index.ts", "cli/commands/proxy.ts", "cli/main.ts", "lib/ensure.ts"].flatMap((entry) => [...staticGraph(join(src, entry))]);
  expect(proxy.filter((m) => m.includes("/supervisor/web/"))).toEqual([]);
  // The supervisor itself: only the tiny mount; the app, assets and SQLite are a dynamic import away.
  const supervisor = [...staticGraph(join(src, "supervisor/daemon.ts"))];
  expect(supervisor).toContain(join(src, "supervisor/web/mount.ts"));
  expect(supervisor.filter((m) => dashboard(m) || m === "bun:sqlite")).toEqual([]);
  // `msm ui` asks the supervisor over HTTP; the command loads none of it either.
  expect([...staticGraph(join(src, "cli/commands/ui.ts"))].filter((m) => m.includes("/supervisor/") || m === "bun:sqlite")).toEqual([]);
});

test("a target's proxy never loads the profile code: only --profile does (a dynamic import away)", () => {
  const src = join(import.meta.dir, "../../src");
  const graph = ["proxy/index.ts", "cli/commands/proxy.ts", "cli/main.ts"].flatMap((entry) => [...staticGraph(join(src, entry))]);
  const profile = (m: string) =>
    m.endsWith("/src/proxy/profile.ts") || m.includes("/src/proxy/profile/") || m.endsWith("/lib/tool-search.ts") || m.includes("/lib/text/");
  expect(graph.filter(profile)).toEqual([]);
  // And --profile itself stays as small as a proxy: no SQLite, Hono, zod or install code.
  const profiled = [...staticGraph(join(src, "proxy/profile.ts"))];
  expect(profiled.filter((m) => m === "bun:sqlite" || m === "hono" || m.startsWith("zod") || m.includes("/src/install/"))).toEqual([]);
});
