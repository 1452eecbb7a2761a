/**
 * PgServer/PgGraph in process against a real (throwaway) PostgreSQL: the parts whose effect a session cannot see
 * directly.
 */
import { describe, expect, test } from "bun:test";
import { PgGraph, PgServer } from "../../../../src/memory/postgres/store.ts";
import { parsePgUrl } from "../../../../src/memory/postgres/url.ts";
import { waitFor } from "../../../helpers/sandbox.ts";
import { type TestPostgres, postgresAvailable, usePostgres } from "../../../helpers/postgres.ts";

let pg: () => TestPostgres;

describe.skipIf(!postgresAvailable())("PostgreSQL store", () => {
  pg = usePostgres();

  test("change notifications: a daemon hears every other writer of its project, in commit order, never itself", async () => {
    const mine = new PgServer(parsePgUrl(pg().url(), {}));
    const theirs = new PgServer(parsePgUrl(pg().url(), {}));
    const raw = new Bun.SQL(pg().url(), { max: 1 });
    try {
      const identity = { id: "id:notify", source: "msm.json" as const };
      const here = new PgGraph(mine, identity);
      const there = new PgGraph(theirs, identity);
      const other = new PgGraph(theirs, { id: "id:elsewhere", source: "msm.json" as const });
      const heard: string[] = [];
      await here.follow((origin) => heard.push(origin));
      await here.follow(() => heard.push("listened twice"));

      await here.createEntities([{ name: "mine", entityType: "t", observations: [] }]);
      await there.createEntities([{ name: "theirs", entityType: "t", observations: [] }]);
      await other.createEntities([{ name: "another project", entityType: "t", observations: [] }]);
      await there.addObservations([{ entityName: "nobody", contents: ["x"] }]).catch(() => {}); // rolled back
      await raw`SELECT pg_notify(${here.channel}, 'marker')`;
      // Notifications arrive on one connection in commit order: once the marker is in, anything else would be too.
      await waitFor(() => heard.includes("marker"), 10_000, "the marker notification");
      expect(heard).toEqual([theirs.origin, "marker"]);
    } finally {
      await raw.close();
      await mine.close();
      await theirs.close();
    }
  }, 60_000);
});
