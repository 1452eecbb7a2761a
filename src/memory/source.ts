import { userInfo } from "node:os";
import { MsmError } from "../lib/errors.ts";
import { projectProblem } from "../lib/trust.ts";
import { Databases, requestProject, type DatabaseChoice } from "./sqlite/databases.ts";
import { PgGraph, PgServer } from "./postgres/store.ts";
import type { AsyncStore } from "./sqlite/client.ts";
import { configuredDatabaseUrl, parsePgUrl } from "./postgres/url.ts";
import { projectIdentity, type ProjectIdentity } from "./postgres/project-id.ts";
import type { Graph, GraphSource, StoreChoice } from "./types.ts";

/** The per-project SQLite files (the default). */
export class SqliteSource implements GraphSource {
  readonly backend = "sqlite" as const;
  constructor(readonly databases: Databases) {}
  current(): AsyncStore {
    return this.databases.current();
  }
  currentWithChoice(): { store: AsyncStore; choice: StoreChoice & DatabaseChoice } {
    const { store, choice } = this.databases.currentWithChoice();
    return { store, choice: { ...choice, backend: "sqlite" } };
  }
  closeAll(): Promise<void> {
    return this.databases.closeAll();
  }
}

/** Every project in one PostgreSQL database, each under its identity (git origin, msm.json projectId or path). */
export class PostgresSource implements GraphSource {
  readonly backend = "postgres" as const;
  private readonly graphs = new Map<string, PgGraph>();

  constructor(readonly server: PgServer) {}

  current(): PgGraph {
    return this.currentWithChoice().store;
  }

  currentWithChoice(): { store: PgGraph; choice: StoreChoice } {
    const project = requestProject.getStore();
    const identity = identityFor(project);
    let graph = this.graphs.get(identity.id);
    if (!graph) {
      graph = new PgGraph(this.server, identity);
      this.graphs.set(identity.id, graph);
    }
    const why = {
      "git-origin": `the project ${project}'s git origin is ${identity.id}`,
      "msm.json": `${project}/.claude/msm.json names the project ${identity.id.slice(3)}`,
      path: `the project ${project} has no git origin and no projectId in .claude/msm.json, so its path names it`,
      home: "the session has no project",
    }[identity.source];
    return {
      store: graph,
      choice: { scope: identity.source === "home" ? "home" : "project", why, backend: "postgres", projectId: identity.id, projectIdSource: identity.source },
    };
  }

  follow(store: Graph, changed: () => void): Promise<void> {
    return (store as PgGraph).follow(changed);
  }

  async closeAll(): Promise<void> {
    await this.server.close();
  }
}

/** The id a project has in a shared database; a project path is checked as strictly as for SQLite. */
export function identityFor(project: string | undefined): ProjectIdentity {
  if (project === undefined || project.trim() === "") return projectIdentity(undefined, userName());
  const problem = projectProblem(project);
  if (problem) {
    throw new MsmError(
      "PROJECT_REFUSED",
      `The project path ${project} ${problem}, so msm keeps no memory for it. Start the session in (or with --project set to) an absolute path of a folder you own.`,
    );
  }
  return projectIdentity(project, userName());
}

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "user";
  }
}

/** The daemon's graphs: PostgreSQL when a database URL is configured (env wins over config), else SQLite. */
export function openGraphSource(configUrl: string | undefined, log: { info: (m: string) => void; warn: (m: string) => void }): GraphSource {
  const url = configuredDatabaseUrl(configUrl);
  if (!url) return new SqliteSource(new Databases(log));
  const target = parsePgUrl(url);
  log.info(`memory backend: PostgreSQL ${target.display}${target.sslmode ? ` (sslmode=${target.sslmode})` : ""}`);
  return new PostgresSource(new PgServer(target));
}
