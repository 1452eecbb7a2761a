// What a hosted server's environment holds. Directly, an editor starts each server with its own session's
// environment (direnv, per-project tokens). Through msm: a project's (or a session's) child gets the environment of
// the session that starts it plus the config's `env`; a global child, and the supervisor and every daemon, only the
// documented base set (src/lib/base-env.ts). Before, the first session's whole environment became the supervisor's
// and so every daemon's and every child's, for every project.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, openSession, type Session } from "../helpers/sandbox.ts";
import { textOf } from "../helpers/hosted.ts";

const ASKING = join(import.meta.dir, "../fixtures/asking-server.ts");
const NAMES = ["SECRET_OF_PROJECT", "FROM_CONFIG", "PATH"];

function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

async function envSeen(session: Session): Promise<Record<string, string | null>> {
  return JSON.parse(textOf(await session.client.callTool({ name: "env", arguments: { names: NAMES } })));
}

describe("a hosted server's environment", () => {
  test(
    "two projects: each child sees its own session's secret and the config's env; the supervisor, the host and a global child see neither secret",
    async () => {
      const sandbox = new Sandbox({
        targets: {
          memory: { port: 0 },
          mine: { command: process.execPath, args: [ASKING], env: { FROM_CONFIG: "yes" } },
          everyone: { command: process.execPath, args: [ASKING], share: "global", env: { FROM_CONFIG: "global" } },
        },
      });
      const opened: Session[] = [];
      try {
        const a = await openSession(sandbox, sandbox.project("a"), { target: "mine", env: { SECRET_OF_PROJECT: "secret-a" } });
        opened.push(a);
        const b = await openSession(sandbox, sandbox.project("b"), { target: "mine", env: { SECRET_OF_PROJECT: "secret-b" } });
        opened.push(b);
        expect(await envSeen(a)).toMatchObject({ SECRET_OF_PROJECT: "secret-a", FROM_CONFIG: "yes" });
        expect(await envSeen(b)).toMatchObject({ SECRET_OF_PROJECT: "secret-b", FROM_CONFIG: "yes" });
        expect((await envSeen(a)).PATH).toBe(process.env.PATH!);

        const g = await openSession(sandbox, sandbox.project("a"), { target: "everyone", env: { SECRET_OF_PROJECT: "secret-a" } });
        opened.push(g);
        expect(await envSeen(g)).toMatchObject({ SECRET_OF_PROJECT: null, FROM_CONFIG: "global" });

        // msm's own long-lived processes never hold a session's secret.
        for (const name of ["supervisor", "mine", "everyone"]) {
          const env = environOf(sandbox.lock(name)!.pid);
          expect(env.SECRET_OF_PROJECT).toBeUndefined();
          expect(env.MSM_HOME).toBe(sandbox.msmHome);
          expect(env.PATH).toBe(process.env.PATH!);
        }
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await sandbox.cleanup();
      }
    },
    120_000,
  );
});
