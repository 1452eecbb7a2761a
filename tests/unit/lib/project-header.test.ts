// The project header carries bytes: a raw non-ASCII folder name arrived garbled (`Proj é` → `Proj Ã©`) on every
// platform. Encoded once by the proxy, decoded once by each daemon.
import { describe, expect, test } from "bun:test";
import { decodeProjectHeader, encodeProjectHeader } from "../../../src/lib/http/headers.ts";

describe("the project header", () => {
  test("any Unicode folder name survives the trip, in a value that is plain ASCII", () => {
    for (const path of [
      "/home/josé/Proj é",
      "/home/u/Проекты/x",
      "C:\\Users\\José\\projects\\app",
      "/srv/日本語 😀",
      "/tmp/trailing space ",
      " /leading",
      "/tmp/tab\there",
      "/tmp/UTF-8''looks encoded",
      "UTF-8''/not a raw path",
    ]) {
      const sent = encodeProjectHeader(path);
      // Printable ASCII, nothing HTTP would trim at either end.
      expect(sent).toMatch(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/);
      expect(decodeProjectHeader(sent)).toBe(path);
    }
  });

  test("a plain ASCII path goes as it is, so older daemons understand it and older proxies are understood", () => {
    for (const path of ["/home/u/project", "/tmp/100% done", "C:\\Users\\u\\my app", "/a/b%C3%A9"]) {
      expect(encodeProjectHeader(path)).toBe(path);
      expect(decodeProjectHeader(path)).toBe(path);
    }
    expect(decodeProjectHeader(null)).toBeUndefined();
    expect(decodeProjectHeader(undefined)).toBeUndefined();
  });

  test("a value that is not validly encoded is passed on unchanged, for the daemon's checks to refuse", () => {
    expect(decodeProjectHeader("UTF-8''%E9%ZZ")).toBe("UTF-8''%E9%ZZ");
    // An unpaired surrogate (possible in a Windows name) has no UTF-8 form: it names no folder, never another one.
    expect(decodeProjectHeader(encodeProjectHeader("/p/\ud800x"))).toBe("/p/\ufffdx");
  });
});
