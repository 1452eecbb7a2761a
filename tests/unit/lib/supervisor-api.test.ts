import { expect, test } from "bun:test";
import { routeUrl } from "../../../src/lib/contracts/supervisor-api.ts";

test("routeUrl fills the target's name (encoded) and the query parameters each route reads", () => {
  expect(routeUrl("status", {})).toBe("/status");
  expect(routeUrl("ensure", { name: "a b/c", timeoutMs: 1500 })).toBe("/daemons/a%20b%2Fc/ensure?timeoutMs=1500");
  expect(routeUrl("ensure", { name: "fs", timeoutMs: 9, passive: true })).toBe("/daemons/fs/ensure?timeoutMs=9&passive=1");
  expect(routeUrl("ensure", { name: "fs", passive: false })).toBe("/daemons/fs/ensure");
  expect(routeUrl("restart", { name: "fs", project: "/home/ann/My Project" })).toBe("/daemons/fs/restart?project=%2Fhome%2Fann%2FMy%20Project");
  expect(routeUrl("logs", { name: "memory", lines: 20 })).toBe("/daemons/memory/logs?lines=20");
  expect(routeUrl("shutdown", {})).toBe("/shutdown");
});
