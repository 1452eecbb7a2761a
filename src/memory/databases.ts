import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { AsyncLocalStorage } from "node:async_hooks";
import { userHome } from "../lib/paths.ts";
import { GraphStore } from "./store.ts";

/** The project a request speaks for, taken from its `Mcp-Project-Path` header. */
export const requestProject = new AsyncLocalStorage<string | undefined>();

export function homeDatabasePath(): string {
  return join(userHome(), ".claude", "memory.db");
}

/**
 * `<project>/.claude/memory.db` when the project is an existing directory whose `.claude` folder exists or can be
 * made and is writable; otherwise the home database. A project path is never created: a typo must not litter.
 */
export function databasePathFor(project: string | undefined): string {
  if (project && project.trim() !== "") {
    const dir = resolve(project);
    try {
      if (statSync(dir).isDirectory()) {
        const claude = join(dir, ".claude");
        mkdirSync(claude, { recursive: true });
        accessSync(claude, constants.W_OK);
        return join(claude, "memory.db");
      }
    } catch {}
  }
  return homeDatabasePath();
}

/** Open stores by file path; a project's database is opened once and shared by every session in it. */
export class Databases {
  private readonly open = new Map<string, GraphStore>();

  constructor(private readonly onOpen?: (file: string) => void) {}

  /** The store for the project of the request being handled. */
  current(): GraphStore {
    return this.get(databasePathFor(requestProject.getStore()));
  }

  get(file: string): GraphStore {
    let store = this.open.get(file);
    if (!store) {
      if (file === homeDatabasePath()) mkdirSync(join(userHome(), ".claude"), { recursive: true });
      store = new GraphStore(file);
      this.open.set(file, store);
      this.onOpen?.(file);
    }
    return store;
  }

  closeAll(): void {
    for (const store of this.open.values()) store.close();
    this.open.clear();
  }
}
