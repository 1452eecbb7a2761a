// The import rules of docs/architecture (DESIGN.md "Where things go"), checked on every file under src/:
//   - lib/ imports nothing above it;
//   - a mode folder imports only lib/ and itself, never another mode folder;
//   - from outside, a mode folder is reached through its one public face;
//   - no import circles, type-only imports included (a circle of types is still a circle to a reader).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");
const MODES = ["proxy", "host", "memory", "remote", "supervisor", "install", "service"];
/** Each mode folder's public face. host/ keeps daemon.ts until its router is rewritten (then index.ts). */
const FACE: Record<string, string> = Object.fromEntries(MODES.map((m) => [m, m === "host" ? "host/daemon.ts" : `${m}/index.ts`]));

interface Edge {
  from: string;
  to: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every relative import of a file: static, type-only, re-exports and dynamic `import("…")`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  const patterns = [/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/g, /\bimport\(\s*"([^"]+)"\s*\)/g, /(?:^|\n)\s*import\s+"([^"]+)"/g];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) if (match[1]!.startsWith(".")) found.push(resolve(dirname(file), match[1]!));
  return found;
}

const files = sources(SRC);
const rel = (path: string) => relative(SRC, path);
const edges: Edge[] = files.flatMap((file) => importsOf(file).map((to) => ({ from: rel(file), to: rel(to) })));
const top = (path: string) => (path.includes("/") ? path.split("/")[0]! : "");

test("the import parser sees the tree (sanity)", () => {
  expect(files.length).toBeGreaterThan(100);
  expect(edges).toContainEqual({ from: "cli/commands/proxy.ts", to: "proxy/index.ts" });
  // Assets (the dashboard's HTML, CSS and script) are imported as text; every .ts import must name a file.
  for (const edge of edges.filter((e) => e.to.endsWith(".ts"))) expect({ edge, exists: files.includes(join(SRC, edge.to)) }).toEqual({ edge, exists: true });
});

test("lib/ imports nothing above it", () => {
  expect(edges.filter((e) => top(e.from) === "lib" && top(e.to) !== "lib")).toEqual([]);
});

test("mode folders import only lib/ and themselves", () => {
  const bad = edges.filter((e) => MODES.includes(top(e.from)) && top(e.to) !== "lib" && top(e.to) !== top(e.from));
  expect(bad).toEqual([]);
});

test("from outside, a mode folder is reached through its one public face", () => {
  const bad = edges.filter((e) => MODES.includes(top(e.to)) && top(e.from) !== top(e.to) && e.to !== FACE[top(e.to)]);
  expect(bad).toEqual([]);
});

test("only the entry point imports the command line", () => {
  expect(edges.filter((e) => top(e.to) === "cli" && top(e.from) !== "cli")).toEqual([{ from: "index.ts", to: "cli/main.ts" }]);
});

test("no import circles", () => {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const circles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === "open") circles.push([...path.slice(path.indexOf(to)), to]);
      else if (!state.has(to)) visit(to);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of files.map(rel).sort()) if (!state.has(file)) visit(file);
  expect(circles.map((c) => c.join(" -> "))).toEqual([]);
});
