import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configuredDatabaseUrl, parsePgUrl, redact } from "../../../../src/memory/postgres/url.ts";
import { gitOrigin, msmJsonProjectId, normaliseOrigin, projectIdentity } from "../../../../src/memory/postgres/project-id.ts";
import { parseConfig } from "../../../../src/lib/config.ts";

describe("database URL", () => {
  test("the environment wins over config; absent both, SQLite", () => {
    expect(configuredDatabaseUrl("postgres://a@h/db", { MSM_MEMORY_DATABASE_URL: "postgres://b@h/db" })).toBe("postgres://b@h/db");
    expect(configuredDatabaseUrl("postgres://a@h/db", {})).toBe("postgres://a@h/db");
    expect(configuredDatabaseUrl(undefined, {})).toBeUndefined();
  }, 5_000);

  test("what is shown never holds the password, from the URL, PGPASSWORD or ~/.pgpass", () => {
    const t = parsePgUrl("postgresql://team:p%40ss%3Aw0rd@DB.example.com:6543/graph?sslmode=require", {});
    expect(t).toMatchObject({ hostname: "db.example.com", port: 6543, username: "team", database: "graph", password: "p@ss:w0rd", sslmode: "require" });
    expect(t.display).toBe("postgres://team@db.example.com:6543/graph");
    expect(redact("failed for postgres://team:p%40ss%3Aw0rd@x and p@ss:w0rd", t)).toBe("failed for postgres://team:***@x and ***");
    expect(parsePgUrl("postgres://u@h/d", { PGPASSWORD: "envpw" }).password).toBe("envpw");

    const dir = mkdtempSync(join(tmpdir(), "pgpass-"));
    try {
      const file = join(dir, "pgpass");
      writeFileSync(file, "# comment\nother:5432:*:u:nope\nh:*:d:u:from\\:file\n", { mode: 0o600 });
      expect(parsePgUrl("postgres://u@h/d", { PGPASSFILE: file }).password).toBe("from:file");
      writeFileSync(join(dir, "open"), "h:*:d:u:leaky\n", { mode: 0o644 });
      expect(parsePgUrl("postgres://u@h/d", { PGPASSFILE: join(dir, "open") }).password).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 5_000);

  test("a bad URL or sslmode is a usage error that does not echo the URL", () => {
    expect(() => parsePgUrl("postgres://u:secret@h/d?sslmode=maybe", {})).toThrow(/sslmode=maybe is not one of/);
    expect(() => parsePgUrl("mysql://u:secret@h/d", {})).toThrow(/must start with postgres/);
    try {
      parsePgUrl("not a url secret", {});
    } catch (error) {
      expect(String(error)).not.toContain("secret");
    }
  }, 5_000);

  test("config accepts targets.memory.database and names a wrong one without printing it", () => {
    expect(parseConfig(JSON.stringify({ targets: { memory: { database: "postgres://u@h/d" } } })).targets.memory).toEqual({
      database: "postgres://u@h/d",
    } as never);
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { database: "http://u:secret@h" } } }))).toThrow(
      /targets\.memory\.database: must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    expect(() => parseConfig(JSON.stringify({ targets: { memory: { database: "http://u:secret@h" } } }))).not.toThrow(/secret/);
  }, 5_000);
});

describe("project identity", () => {
  test("origin URLs of one repository normalise to one id; different repositories differ", () => {
    const same = [
      "https://github.com/acme/app.git",
      "https://GitHub.com/acme/app",
      "git@github.com:acme/app.git",
      "ssh://git@github.com:22/acme/app/",
      "ssh://git@GITHUB.COM/acme/app.git",
      "http://user@github.com/acme/app.git",
    ];
    for (const url of same) expect(normaliseOrigin(url)).toBe("github.com/acme/app");
    expect(normaliseOrigin("https://github.com/acme/app2.git")).not.toBe("github.com/acme/app");
    expect(normaliseOrigin("https://gitlab.example.com:8443/group/sub/app.git")).toBe("gitlab.example.com:8443/group/sub/app");
    expect(normaliseOrigin("/srv/git/app.git")).toBe("file:/srv/git/app.git");
  }, 5_000);

  test("git origin, then .claude/msm.json projectId, then the path; worktrees read the common config", () => {
    const root = mkdtempSync(join(tmpdir(), "ident-"));
    try {
      const repo = join(root, "repo");
      mkdirSync(join(repo, ".git"), { recursive: true });
      writeFileSync(
        join(repo, ".git", "config"),
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = https://x/other\n[remote "origin"]\n\turl = "git@github.com:acme/app.git"\n',
      );
      expect(gitOrigin(repo)).toBe("git@github.com:acme/app.git");
      expect(projectIdentity(repo)).toEqual({ id: "github.com/acme/app", source: "git-origin" });

      const worktree = join(root, "wt");
      mkdirSync(join(repo, ".git", "worktrees", "wt"), { recursive: true });
      writeFileSync(join(repo, ".git", "worktrees", "wt", "commondir"), "../..\n");
      mkdirSync(worktree);
      writeFileSync(join(worktree, ".git"), `gitdir: ${join(repo, ".git", "worktrees", "wt")}\n`);
      expect(projectIdentity(worktree).id).toBe("github.com/acme/app");

      const named = join(root, "named");
      mkdirSync(join(named, ".claude"), { recursive: true });
      writeFileSync(join(named, ".claude", "msm.json"), JSON.stringify({ projectId: "team-notes" }), { mode: 0o600 });
      expect(projectIdentity(named)).toEqual({ id: "id:team-notes", source: "msm.json" });

      // Untrusted files: a symlinked msm.json or one others can write is ignored.
      const linked = join(root, "linked");
      mkdirSync(join(linked, ".claude"), { recursive: true });
      symlinkSync(join(named, ".claude", "msm.json"), join(linked, ".claude", "msm.json"));
      expect(msmJsonProjectId(linked)).toBeUndefined();
      const open = join(root, "open");
      mkdirSync(join(open, ".claude"), { recursive: true });
      writeFileSync(join(open, ".claude", "msm.json"), JSON.stringify({ projectId: "x" }), { mode: 0o666 });
      const { chmodSync } = require("node:fs");
      chmodSync(join(open, ".claude", "msm.json"), 0o666);
      expect(msmJsonProjectId(open)).toBeUndefined();

      expect(projectIdentity(join(root, "plain"))).toEqual({ id: `path:${join(root, "plain")}`, source: "path" });
      expect(projectIdentity(undefined, "ann")).toEqual({ id: "home:ann", source: "home" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 5_000);
});
