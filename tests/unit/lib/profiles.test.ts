import { expect, test } from "bun:test";
import { ProfileSchema, readConfig } from "../../../src/lib/config.ts";
import { profileProblem, readProfile } from "../../../src/lib/profiles.ts";

/** Entries the proxy (plain code) and `msm doctor` (the zod schema) must both accept or both refuse. */
const CASES: [unknown, boolean][] = [
  [{ targets: ["fs"] }, true],
  [{ targets: ["fs", "git"], mode: "search", separator: "_" }, true],
  [{ targets: ["fs"], mode: "all", separator: "--", tools: { deny: ["fs__write_*"] }, prompts: { allow: [] }, resources: {} }, true],
  [{ targets: [] }, false],
  [{ targets: "fs" }, false],
  [{}, false],
  [{ targets: ["fs"], mode: "lazy" }, false],
  [{ targets: ["fs"], separator: "" }, false],
  [{ targets: ["fs"], separator: "." }, false],
  [{ targets: ["fs"], separator: "way-too-long" }, false],
  [{ targets: ["fs"], tools: { allow: "x" } }, false],
  [{ targets: ["fs"], tools: { only: ["x"] } }, false],
  [{ targets: ["fs"], extra: true }, false],
  [{ targets: ["bad name"] }, false],
  [{ targets: [3] }, false],
  [[], false],
  [null, false],
];

test("a profile entry is valid for the proxy's plain reader exactly when it is for the config schema", () => {
  for (const [value, valid] of CASES) {
    expect({ value, plain: profileProblem("dev", value) === undefined }).toEqual({ value, plain: valid });
    expect({ value, zod: ProfileSchema.safeParse(value).success }).toEqual({ value, zod: valid });
  }
});

test("readProfile fills in the defaults: mode all, separator __", () => {
  expect(readProfile("dev", { targets: ["fs", "git"], tools: { deny: ["x"] } })).toEqual({
    name: "dev",
    targets: ["fs", "git"],
    mode: "all",
    separator: "__",
    rules: { tools: { deny: ["x"] } },
  });
  expect(readProfile("dev", { targets: ["fs", "fs"] })).toEqual({ problem: 'profiles.dev.targets: "fs" is named twice' });
  expect(readProfile("dev", { targets: ["nope"] }, ["fs", "memory"])).toEqual({
    problem: 'profiles.dev.targets: no target is named "nope" (known: fs, memory)',
  });
});

test("config.json: profiles are read next to targets; a broken one is reported on its own and the rest still apply", () => {
  const config = readConfig(
    JSON.stringify({
      targets: { fs: { command: "x" }, git: { command: "y" } },
      profiles: {
        dev: { targets: ["fs", "git", "memory"], mode: "search" },
        typo: { targets: ["fs", "gti"] },
        fs: { targets: ["git"] },
        odd: { targets: ["fs"], separator: "." },
      },
    }),
    "config.json",
  );
  expect(config.error).toBeUndefined();
  expect(Object.keys(config.profiles ?? {})).toEqual(["dev"]);
  expect(config.profiles?.dev).toEqual({ targets: ["fs", "git", "memory"], mode: "search", separator: "__" });
  expect(config.brokenProfiles?.typo).toContain('profiles.typo.targets: no target is named "gti"');
  expect(config.brokenProfiles?.fs).toContain("profiles.fs: a target has this name too");
  expect(config.brokenProfiles?.odd).toContain("profiles.odd.separator");
  // A profile naming a broken target is still a valid profile: the target itself is reported.
  const broken = readConfig(JSON.stringify({ targets: { fs: { command: 5 } }, profiles: { dev: { targets: ["fs"] } } }));
  expect(broken.broken.fs).toBeDefined();
  expect(Object.keys(broken.profiles ?? {})).toEqual(["dev"]);
  expect(readConfig(JSON.stringify({ profiles: [] })).error).toContain("profiles: expected object");
});
