/**
 * The memory daemon on a real (throwaway) PostgreSQL server: several MSM_HOMEs stand for several machines, each with
 * its own clone of one repository. What a user sees: one shared graph, no lost writes, clear errors during an outage
 * that never show the password, and recovery without restarting anything.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { Sandbox, call, msm, openSession, waitFor, watchGraph, type Session } from "../helpers/sandbox.ts";
import { PG_PASSWORD, type TestPostgres, postgresAvailable, usePostgres } from "../helpers/postgres.ts";
import { PG_SCHEMA_STEPS, PG_SCHEMA_VERSION } from "../../src/memory/postgres/schema.ts";

let pg: () => TestPostgres;

/** A clone of a repository: a project folder whose .git/config names `origin`. */
function clone(sandbox: Sandbox, name: string, origin?: string): string {
  const dir = sandbox.project(name);
  if (origin)
    writeFileSync(join(dir, ".git", "config"), `[core]\n\tbare = false\n[remote "origin"]\n\turl = ${origin}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`);
  return dir;
}

function machine(): Sandbox {
  return new Sandbox({ targets: { memory: { port: 0, database: pg().passwordUrl() } } });
}

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content.map((c) => c.text).join("\n");
}

/** Per project: observations and trigram tokens as msm_observation_stats has them, and as counted from the rows. */
async function observationStats(url: string): Promise<Record<string, number[]>> {
  return query(
    url,
    "SELECT project::text AS p, sum(row_count)::float8 AS n, sum(token_count)::float8 AS t FROM msm_observation_stats GROUP BY project HAVING sum(row_count) > 0",
  );
}
async function observationTotals(url: string): Promise<Record<string, number[]>> {
  return query(
    url,
    "SELECT project::text AS p, count(*)::float8 AS n, sum(greatest(length(content_lc) - 2, 0))::float8 AS t FROM msm_observations GROUP BY project",
  );
}
async function query(url: string, text: string): Promise<Record<string, number[]>> {
  const db = new Bun.SQL(url, { max: 1 });
  try {
    const rows = (await db.unsafe(text)) as { p: string; n: number; t: number }[];
    return Object.fromEntries(rows.map((r) => [r.p, [r.n, r.t]]));
  } finally {
    await db.close();
  }
}

describe.skipIf(!postgresAvailable())("memory on PostgreSQL", () => {
  pg = usePostgres();

  test("two machines with two clones of one repository share one graph; other repositories never see it", async () => {
    await using a = machine();
    // The second machine takes the URL from the environment instead of config.json.
    await using b = new Sandbox();
    await using c = machine();
    const sa = await openSession(a, clone(a, "app", "https://GitHub.com/acme/app.git"));
    const sb = await openSession(b, clone(b, "checkout", "git@github.com:acme/app"), { env: { MSM_MEMORY_DATABASE_URL: pg().passwordUrl() } });
    const sc = await openSession(c, clone(c, "app", "https://github.com/acme/other.git"));
    await call(sa.client, "create_entities", { entities: [{ name: "Release", entityType: "process", observations: ["tag, then publish"] }] });
    await call(sb.client, "add_observations", { observations: [{ entityName: "Release", contents: ["added on machine B"] }] });
    const graph = await call<{ entities: { name: string; observations: string[] }[] }>(sa.client, "read_graph");
    expect(graph.entities).toEqual([{ name: "Release", entityType: "process", observations: ["tag, then publish", "added on machine B"] } as never]);
    expect((await call<{ entities: unknown[] }>(sc.client, "read_graph")).entities).toEqual([]);

    const stats = await call<Record<string, unknown>>(sb.client, "memory_stats");
    expect(stats).toMatchObject({
      backend: "postgres",
      projectId: "github.com/acme/app",
      projectIdSource: "git-origin",
      scope: "project",
      entities: 1,
      observations: 2,
    });
    expect(String(stats.database)).not.toContain(PG_PASSWORD);

    // A folder with no remote: an explicit projectId in .claude/msm.json names it, on any machine.
    const named = a.project("notes");
    mkdirSync(join(named, ".claude"), { mode: 0o700 });
    writeFileSync(join(named, ".claude", "msm.json"), JSON.stringify({ projectId: "team-notes" }), { mode: 0o600 });
    const sn = await openSession(a, named);
    expect(await call(sn.client, "memory_stats")).toMatchObject({ projectId: "id:team-notes", projectIdSource: "msm.json" });
    const plain = await openSession(c, c.project("scratch"));
    expect(await call(plain.client, "memory_stats")).toMatchObject({ projectId: `path:${c.project("scratch")}`, projectIdSource: "path" });
    for (const s of [sa, sb, sc, sn, plain]) await s.close();
  }, 120_000);

  test("a write on one machine notifies the sessions subscribed on another machine (LISTEN/NOTIFY per project)", async () => {
    await using a = machine();
    await using b = machine();
    const writer = await openSession(a, clone(a, "app", "https://github.com/acme/notify.git"));
    const watcher = await openSession(b, clone(b, "app", "git@github.com:acme/notify.git"));
    const elsewhere = await openSession(b, clone(b, "other", "https://github.com/acme/unrelated.git"));
    const seen = { watcher: await watchGraph(watcher.client), elsewhere: await watchGraph(elsewhere.client) };

    await call(writer.client, "create_entities", { entities: [{ name: "from A", entityType: "t", observations: [] }] });
    await waitFor(() => seen.watcher.updates >= 1, 10_000, "machine A's write notifying machine B's session");
    // B's own write notifies its session once, from its daemon (that it is not heard again through the database is
    // shown in tests/unit/memory/postgres/store.test.ts, where payloads are visible).
    await call(watcher.client, "add_observations", { observations: [{ entityName: "from A", contents: ["from B"] }] });
    await waitFor(() => seen.watcher.updates >= 2, 10_000, "B's own write");
    await call(writer.client, "add_observations", { observations: [{ entityName: "from A", contents: ["again from A"] }] });
    await waitFor(() => seen.watcher.updates >= 3, 10_000, "the barrier write from A");
    // A failed write (nothing committed) notifies nobody.
    const failed = await writer.client.callTool({ name: "add_observations", arguments: { observations: [{ entityName: "nobody", contents: ["x"] }] } });
    expect(failed.isError).toBe(true);
    await call(writer.client, "delete_observations", { deletions: [{ entityName: "from A", observations: ["again from A"] }] });
    await waitFor(() => seen.watcher.updates >= 4, 10_000, "the second barrier write from A");
    expect(seen.watcher.updates).toBe(4);
    expect(seen.elsewhere.updates).toBe(0);
    const resource = await watcher.client.readResource({ uri: "memory://knowledge-graph" });
    expect(JSON.parse((resource.contents[0] as { text: string }).text).entities).toEqual([{ name: "from A", entityType: "t", observations: ["from B"] }]);
    for (const s of [writer, watcher, elsewhere]) await s.close();
  }, 120_000);

  test("after the server restarts, other machines' writes notify subscribed sessions again (LISTEN comes back by itself)", async () => {
    await using a = machine();
    await using b = machine();
    const writer = await openSession(a, clone(a, "app", "https://github.com/acme/restart.git"));
    const watcher = await openSession(b, clone(b, "app", "https://github.com/acme/restart.git"));
    let seen = 0;
    watcher.client.setNotificationHandler(ResourceUpdatedNotificationSchema, () => {
      seen++;
    });
    await watcher.client.subscribeResource({ uri: "memory://knowledge-graph" });
    await call(writer.client, "create_entities", { entities: [{ name: "before", entityType: "t", observations: [] }] });
    await waitFor(() => seen >= 1, 10_000, "the notification before the restart");
    pg().stopServer();
    expect(pg().startServer()).toBe(true);
    // Bun re-subscribes with a backoff; keep writing until one of them is heard.
    const started = Date.now();
    for (let i = 0; seen < 2; i++) {
      await call(writer.client, "add_observations", { observations: [{ entityName: "before", contents: [`after restart ${i}`] }] });
      await waitFor(() => seen >= 2, 1_000, "").catch(() => {});
      if (Date.now() - started > 60_000) throw new Error("no notification within 60 s of the server's restart");
    }
    for (const s of [writer, watcher]) await s.close();
  }, 120_000);

  test("eight daemons with separate MSM_HOMEs write one project at once and lose no acknowledged write", async () => {
    await using stack = new AsyncDisposableStack();
    const machines = Array.from({ length: 8 }, () => stack.use(machine()));
    const WRITES = 15;
    const sessions: Session[] = [];
    for (const [i, m] of machines.entries()) sessions.push(await openSession(m, clone(m, `clone${i}`, "ssh://git@github.com:22/acme/busy.git")));
    await call(sessions[0]!.client, "create_entities", {
      entities: [
        { name: "hub", entityType: "shared", observations: [] },
        { name: "sink", entityType: "shared", observations: [] },
      ],
    });
    const acknowledged = { entities: new Set<string>(), hub: new Set<string>(), relations: new Set<string>(), sink: new Set<string>() };
    await Promise.all(
      sessions.map(async (s, k) => {
        for (let i = 0; i < WRITES; i++) {
          const name = `w${k}-${i}`;
          await call(s.client, "create_entities", { entities: [{ name, entityType: "item", observations: [`made by ${k}`] }] });
          acknowledged.entities.add(name);
          await call(s.client, "add_observations", { observations: [{ entityName: "hub", contents: [`${k}:${i}`] }] });
          acknowledged.hub.add(`${k}:${i}`);
          await call(s.client, "create_relations", { relations: [{ from: name, to: "hub", relationType: "feeds" }] });
          acknowledged.relations.add(name);
        }
        // Contended structural changes: every machine renames its first item and folds its second into one sink.
        await call(s.client, "rename_entity", { oldName: `w${k}-0`, newName: `renamed-${k}` });
        await call(s.client, "merge_entities", { sources: [`w${k}-1`], target: "sink" });
        acknowledged.sink.add(`made by ${k}`);
      }),
    );
    const graph = await call<{ entities: { name: string; observations: string[] }[]; relations: { from: string; to: string }[] }>(
      sessions[3]!.client,
      "read_graph",
    );
    const names = new Set(graph.entities.map((e) => e.name));
    for (let k = 0; k < 8; k++) {
      for (let i = 2; i < WRITES; i++) expect(names.has(`w${k}-${i}`)).toBe(true);
      expect(names.has(`renamed-${k}`)).toBe(true);
      expect(names.has(`w${k}-0`) || names.has(`w${k}-1`)).toBe(false);
    }
    expect(new Set(graph.entities.find((e) => e.name === "hub")!.observations)).toEqual(acknowledged.hub);
    expect(new Set(graph.entities.find((e) => e.name === "sink")!.observations)).toEqual(acknowledged.sink);
    // Every relation survived, re-pointed with its renamed or merged endpoint; none names a gone entity. The eight
    // merged items' "feeds hub" relations all became sink→hub, which exists once (duplicates are dropped).
    expect(graph.relations.length).toBe(8 * WRITES - 7);
    for (const r of graph.relations) expect(names.has(r.from) && names.has(r.to)).toBe(true);
    expect(graph.relations.filter((r) => r.from === "sink").length).toBe(1);
    // The search statistics kept by triggers agree with the rows, after concurrent inserts, merges and deletes.
    expect(await observationStats(pg().url())).toEqual(await observationTotals(pg().url()));
    for (const s of sessions) await s.close();
  }, 240_000);

  test("an outage is a clear tool error naming the server, never the password; calls work again when it is back", async () => {
    await using sandbox = machine();
    const session = await openSession(sandbox, clone(sandbox, "app", "https://github.com/acme/outage.git"));
    await call(session.client, "create_entities", { entities: [{ name: "before", entityType: "t", observations: [] }] });
    pg().stopServer();
    let down: string;
    try {
      const result = await session.client.callTool({ name: "search_nodes", arguments: { query: "before" } });
      expect(result.isError).toBe(true);
      down = text(result);
      const write = await session.client.callTool({
        name: "create_entities",
        arguments: { entities: [{ name: "during", entityType: "t", observations: [] }] },
      });
      expect(write.isError).toBe(true);
    } finally {
      expect(pg().startServer()).toBe(true);
    }
    expect(down).toContain(`postgres://team@127.0.0.1:${pg().port}/msm`);
    expect(down).toContain("Check that PostgreSQL is running");
    expect(down).not.toContain(PG_PASSWORD);
    // Back: the same daemon, the same session.
    await call(session.client, "create_entities", { entities: [{ name: "after", entityType: "t", observations: [] }] });
    expect((await call<{ entities: { name: string }[] }>(session.client, "read_graph")).entities.map((e) => e.name)).toEqual(["before", "after"]);

    // The pool is bounded: a burst of 40 concurrent calls uses at most 4 connections (the server restarted, so
    // every connection of user `team` now is this daemon's).
    const admin = new Bun.SQL(pg().url("postgres"), { max: 1 });
    try {
      let most = 0;
      let done = false;
      const burst = Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(
            session.client,
            i % 2 ? "search_nodes" : "create_entities",
            i % 2 ? { query: "e" } : { entities: [{ name: `burst-${i}`, entityType: "t", observations: [] }] },
          ),
        ),
      ).finally(() => {
        done = true;
      });
      while (!done) {
        const [row] = await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'team'`;
        most = Math.max(most, row.n);
        await Bun.sleep(5);
      }
      await burst;
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(4);
    } finally {
      await admin.close();
    }

    // A wrong password: the error says the login was refused, and shows neither password.
    await using wrong = new Sandbox({ targets: { memory: { port: 0, database: `postgres://team:Wr0ng-${PG_PASSWORD}@127.0.0.1:${pg().port}/msm` } } });
    const s = await openSession(wrong, wrong.project("p"));
    const result = await s.client.callTool({ name: "read_graph", arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("refused the login for user team");
    expect(text(result)).not.toContain(PG_PASSWORD);
    await s.close();

    // Nowhere a user looks: the daemon's log, msm status (text and JSON).
    const log = readFileSync(join(sandbox.msmHome, "logs", "memory.log"), "utf8");
    expect(log).toContain(`PostgreSQL postgres://team@127.0.0.1:${pg().port}/msm`);
    expect(log).not.toContain(PG_PASSWORD);
    for (const args of [["status"], ["status", "--json"]]) {
      const out = await msm(sandbox, args);
      expect(out.stdout + out.stderr).not.toContain(PG_PASSWORD);
    }
    await session.close();
  }, 120_000);

  test("msm memory migrate --to / --from copy a project's graph both ways, idempotently; import and export use the configured backend", async () => {
    await using sandbox = new Sandbox();
    const origin = "https://github.com/acme/migrate.git";
    const local = clone(sandbox, "local", origin);
    const lines = [
      { type: "entity", name: "A", entityType: "t", observations: ["one", "two"] },
      { type: "entity", name: "B", entityType: "t", observations: [] },
      { type: "relation", from: "A", to: "B", relationType: "uses" },
    ];
    const file = join(sandbox.root, "graph.jsonl");
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    expect((await msm(sandbox, ["memory", "import", file, "--project", local])).code).toBe(0);

    const url = pg().passwordUrl();
    const first = await msm(sandbox, ["memory", "migrate", "--to", url, "--project", local]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(
      `Copied 2 entities and 1 relations from ${join(local, ".claude", "memory.db")} to postgres://team@127.0.0.1:${pg().port}/msm (project github.com/acme/migrate)`,
    );
    expect(first.stderr).toContain("2 entities added");
    const again = await msm(sandbox, ["memory", "migrate", "--to", url, "--project", local]);
    expect(again.stderr).toContain("0 entities added, 2 already there, 0 observations and 0 relations added");
    for (const out of [first, again]) expect(out.stdout + out.stderr).not.toContain(PG_PASSWORD);

    // Export from PostgreSQL (the backend the environment names) is the same file a SQLite export gives.
    const fromSqlite = await msm(sandbox, ["memory", "export", "--project", local]);
    const fromPg = await msm(sandbox, ["memory", "export", "--project", local], { MSM_MEMORY_DATABASE_URL: url });
    expect(fromPg.code).toBe(0);
    expect(fromPg.stdout).toBe(fromSqlite.stdout);
    expect(fromPg.stdout).toBe(lines.map((l) => JSON.stringify(l)).join("\n") + "\n");

    // Import straight into PostgreSQL, then copy the graph back into another clone's SQLite file.
    const more = join(sandbox.root, "more.jsonl");
    writeFileSync(more, JSON.stringify({ type: "entity", name: "C", entityType: "t", observations: ["three"] }) + "\n");
    expect((await msm(sandbox, ["memory", "import", more, "--project", local], { MSM_MEMORY_DATABASE_URL: url })).code).toBe(0);
    const other = clone(sandbox, "other", "git@github.com:acme/migrate");
    const back = await msm(sandbox, ["memory", "migrate", "--from", url, "--project", other]);
    expect(back.code).toBe(0);
    expect(back.stderr).toContain("Copied 3 entities and 1 relations");
    const exported = await msm(sandbox, ["memory", "export", "--project", other]);
    expect(
      exported.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).name ?? "relation"),
    ).toEqual(["A", "B", "C", "relation"]);

    // The server down: a plain error naming it, not a stack trace and not the password.
    const down = await msm(sandbox, ["memory", "migrate", "--to", `postgres://team:${PG_PASSWORD}@127.0.0.1:1/msm`, "--project", local]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("Cannot reach the memory database postgres://team@127.0.0.1:1/msm");
    expect(down.stderr).not.toContain(PG_PASSWORD);
  }, 120_000);

  test("a database from before schema versions is upgraded in place on first use: graph kept, search statistics counted", async () => {
    await pg().psql("CREATE DATABASE legacy", "postgres");
    // What msm wrote before schema versions: the version-1 tables, no msm_schema, no statistics.
    await pg().psql(PG_SCHEMA_STEPS[1]!, "legacy");
    await pg().psql(
      `INSERT INTO msm_projects (key, created_at) VALUES ('id:legacy', 0);
       INSERT INTO msm_entities (project, name, entity_type, name_lc, type_lc, created_at, updated_at) VALUES
         (1, 'Short', 'note', 'short', 'note', 0, 0), (1, 'Repeat', 'note', 'repeat', 'note', 0, 0);
       INSERT INTO msm_observations (entity_id, project, content, content_lc, created_at) VALUES
         (1, 1, 'a cup of tea', 'a cup of tea', 0), (2, 1, 'tea tea tea tea', 'tea tea tea tea', 0);`,
      "legacy",
    );
    await using sandbox = new Sandbox({ targets: { memory: { port: 0, database: pg().url("legacy") } } });
    const project = sandbox.project("legacy");
    mkdirSync(join(project, ".claude"), { mode: 0o700 });
    writeFileSync(join(project, ".claude", "msm.json"), JSON.stringify({ projectId: "legacy" }), { mode: 0o600 });
    const s = await openSession(sandbox, project);
    // BM25: four occurrences in the longer observation beat one in the shorter (shortest-first would not).
    const found = await call<{ entities: { name: string }[] }>(s.client, "search_nodes", { query: "tea" });
    expect(found.entities.map((e) => e.name)).toEqual(["Repeat", "Short"]);
    expect(await query(pg().url("legacy"), "SELECT version::text AS p, 0 AS n, 0 AS t FROM msm_schema")).toEqual({ [String(PG_SCHEMA_VERSION)]: [0, 0] });
    expect(await observationStats(pg().url("legacy"))).toEqual(await observationTotals(pg().url("legacy")));
    await call(s.client, "delete_entities", { entityNames: ["Repeat"] });
    expect(await observationStats(pg().url("legacy"))).toEqual(await observationTotals(pg().url("legacy")));
    await s.close();
  }, 120_000);

  test("an msm older than the database's schema refuses it, naming both versions and what to run, and writes nothing", async () => {
    await pg().psql("CREATE DATABASE future OWNER team", "postgres");
    await using before = new Sandbox({ targets: { memory: { port: 0, database: pg().passwordUrl("future") } } });
    await using sandbox = new Sandbox({ targets: { memory: { port: 0, database: pg().passwordUrl("future") } } });
    const first = await openSession(before, before.project("app"));
    await call(first.client, "create_entities", { entities: [{ name: "kept", entityType: "x", observations: [] }] });
    await first.close();
    // A newer msm on another machine moved the schema on; this machine's daemon starts after that.
    await pg().psql(`UPDATE msm_schema SET version = ${PG_SCHEMA_VERSION + 1}, msm_version = '9.9.9'`, "future");
    const s = await openSession(sandbox, sandbox.project("app"));
    const result = await s.client.callTool({ name: "create_entities", arguments: { entities: [{ name: "lost", entityType: "x", observations: [] }] } });
    expect(result.isError).toBe(true);
    const message = text(result);
    expect(message).toContain(`has schema version ${PG_SCHEMA_VERSION + 1} (written by msm 9.9.9)`);
    expect(message).toContain(`understands schema versions up to ${PG_SCHEMA_VERSION}`);
    expect(message).toContain("msm upgrade-daemons");
    expect(message).toContain("postgres://team@127.0.0.1");
    expect(message).not.toContain(PG_PASSWORD);
    expect(await query(pg().url("future"), "SELECT name AS p, 0 AS n, 0 AS t FROM msm_entities")).toEqual({ kept: [0, 0] });
    await s.close();
  }, 120_000);

  test("a mistyped database URL stops the daemon with the reason instead of quietly using local SQLite", async () => {
    await using sandbox = new Sandbox({ targets: { memory: { port: 0, database: `postgress://team:${PG_PASSWORD}@127.0.0.1/msm` } } });
    const out = await msm(sandbox, ["memory", "serve", "--port", "0"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("targets.memory.database: must be a postgres:// or postgresql:// URL");
    expect(out.stdout + out.stderr).not.toContain(PG_PASSWORD);
  }, 60_000);
});
