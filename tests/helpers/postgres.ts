/**
 * A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temp folder, started on a free loopback
 * port, stopped and deleted by `stop()`. PostgreSQL refuses to run as root, so when the tests run as root the
 * cluster belongs to `nobody` (setpriv drops to uid/gid 65534). Trust auth on loopback only, plus one password user
 * so tests can check that a password never shows up anywhere.
 */
import { afterAll, beforeAll } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin", "/usr/bin"];
const NOBODY = 65534;
export const PG_PASSWORD = "s3cret-Pa55word";

function bin(name: string): string | undefined {
  for (const dir of BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Whether this machine can run a throwaway server (tests that need one skip with a reason otherwise). */
export function postgresAvailable(): boolean {
  return !!bin("initdb") && !!bin("pg_ctl");
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export class TestPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Trust-auth URL for the superuser `msm` (no password). */
  url(database = "msm"): string {
    return `postgres://msm@127.0.0.1:${this.port}/${database}`;
  }

  /** URL of `team`, a user that must log in with PG_PASSWORD. */
  passwordUrl(database = "msm"): string {
    return `postgres://team:${PG_PASSWORD}@127.0.0.1:${this.port}/${database}`;
  }

  private static run(args: string[]): { ok: boolean; output: string } {
    const asNobody = process.getuid?.() === 0;
    const cmd = asNobody ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...args] : args;
    const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" } });
    return { ok: result.exitCode === 0, output: `${result.stdout.toString()}${result.stderr.toString()}` };
  }

  static async start(): Promise<TestPostgres> {
    const initdb = bin("initdb");
    if (!initdb) throw new Error("initdb not found: install PostgreSQL (apt-get install postgresql) to run these tests");
    // Not under MSM_TEST_ROOT: that folder is private to the test user, and the server runs as nobody.
    const dir = mkdtempSync(join(tmpdir(), "msm-pg-"));
    if (process.getuid?.() === 0) chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, 0o700);
    const data = join(dir, "data");
    const init = TestPostgres.run([initdb, "-D", data, "-U", "msm", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
    if (!init.ok) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb failed:\n${init.output}`);
    }
    // A port can be taken between picking and binding (other helpers run tests too): try a few.
    for (let attempt = 0; attempt < 5; attempt++) {
      const pg = new TestPostgres(dir, await freePort());
      if (pg.startServer()) {
        await pg.psql(`CREATE DATABASE msm`, "postgres");
        await pg.psql(`CREATE ROLE team LOGIN PASSWORD '${PG_PASSWORD}'; GRANT ALL ON DATABASE msm TO team; ALTER DATABASE msm OWNER TO team;`, "postgres");
        return pg;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start PostgreSQL in ${dir}`);
  }

  /** Starts (or restarts) the server on its port; false when it could not (port taken). */
  startServer(): boolean {
    const hba = join(this.dir, "data", "pg_hba.conf");
    // Loopback only; `team` needs its password, the superuser is trusted (tests only).
    Bun.write(hba, "host all team 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n");
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    return TestPostgres.run([bin("pg_ctl")!, "-D", join(this.dir, "data"), "-o", options, "-l", join(this.dir, "log"), "-w", "-t", "60", "start"]).ok;
  }

  /** Stops the server (fast shutdown), keeping its data: for outage tests. */
  stopServer(): void {
    TestPostgres.run([bin("pg_ctl")!, "-D", join(this.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  async psql(sql: string, database = "msm"): Promise<void> {
    const db = new Bun.SQL(this.url(database), { max: 1 });
    try {
      await db.unsafe(sql);
    } finally {
      await db.close();
    }
  }

  async stop(): Promise<void> {
    TestPostgres.run([bin("pg_ctl")!, "-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One throwaway server for the enclosing describe block (or file): started before its first test, stopped after its
 * last. Returns a getter, valid inside tests.
 */
export function usePostgres(): () => TestPostgres {
  let pg: TestPostgres | undefined;
  beforeAll(async () => {
    pg = await TestPostgres.start();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  }, 60_000);
  return () => pg!;
}
