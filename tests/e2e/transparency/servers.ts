// The servers of the transparency matrix, each with how an editor runs it directly, how msm hosts it, and the
// scripted session that exercises it. A script asks every question whatever the client declared (a tool that needs
// sampling is called by a client without it too): what the server answers then is part of what must not change.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { EVERYTHING, FILESYSTEM, NODE } from "../../helpers/hosted.ts";
import { OFFICIAL_MEMORY } from "../../helpers/official.ts";
import { MSM, requireBinary, type Sandbox } from "../../helpers/sandbox.ts";
import type { Launch, Message, ProfileNames, Scripted } from "../../helpers/transcript.ts";

export const CONFORMANCE = resolve(import.meta.dir, "../../fixtures/conformance-stdio-server.ts");
export const RAW = resolve(import.meta.dir, "../../fixtures/raw-stdio-server.ts");
export const MODERN = resolve(import.meta.dir, "../../fixtures/modern-stdio-server.ts");
/** Bun, for the TypeScript fixtures. */
export const BUN = process.execPath;

/** Folders the scripts read: `dir` is server-filesystem's configured folder, `roots` what a client with roots answers. */
export interface Folders {
  dir: string;
  roots: string;
}

export function makeFolders(root: string): Folders {
  const dir = join(root, "configured");
  const roots = join(root, "client-root");
  mkdirSync(join(dir, "sub"), { recursive: true });
  mkdirSync(roots, { recursive: true });
  writeFileSync(join(dir, "a.txt"), "configured folder\n");
  writeFileSync(join(dir, "sub", "b.txt"), "nested\n");
  writeFileSync(join(roots, "r.txt"), "client root\n");
  return { dir, roots };
}

export interface ServerSpec {
  /** The target name in msm's config. */
  name: string;
  /** The stdio command an editor would run directly. */
  command: string;
  args: (folders: Folders) => string[];
  /** Environment the server needs, directly (a fresh folder per run for state) and as msm's target `env`. */
  directEnv?: (runDir: string) => Record<string, string>;
  hostedEnv?: Record<string, string>;
  script: (s: Scripted, folders: Folders) => Promise<void>;
}

/** The target entries for msm's config.json: each server hosted as a stdio target (default share: project). */
export function hostedTargets(specs: ServerSpec[], folders: Folders, extra: object = {}): Record<string, object> {
  return Object.fromEntries(
    specs.map((spec) => [spec.name, { command: spec.command, args: spec.args(folders), ...(spec.hostedEnv ? { env: spec.hostedEnv } : {}), ...extra }]),
  );
}

/** The server as the editor runs it: its own process over stdio, in the project folder. */
export function directLaunch(spec: ServerSpec, folders: Folders, env: Record<string, string>, cwd: string): Launch {
  const runDir = mkdtempSync(join(cwd, ".direct-"));
  return { command: spec.command, args: spec.args(folders), env: { ...env, ...spec.directEnv?.(runDir) }, cwd, serverLog: () => "" };
}

/** The same server through msm: `dist/msm proxy --target NAME` in the project folder. */
export function msmLaunch(sandbox: Sandbox, target: string, project: string, env: Record<string, string> = {}): Launch {
  requireBinary();
  const log = join(sandbox.msmHome, "logs", `${target}.log`);
  return {
    command: MSM,
    args: ["proxy", "--target", target],
    env: { ...sandbox.env, ...env },
    cwd: project,
    serverLog: () => {
      try {
        return readFileSync(log, "utf8")
          .split("\n")
          .filter((line) => line.includes(`[${project}]`))
          .join("\n");
      } catch {
        return "";
      }
    },
  };
}

/** The profile of one target the matrix runs each server through too (normalisation item 4 of helpers/transcript.ts). */
export const profileOf = (target: string): ProfileNames => ({ name: `p-${target}`, target, separator: "__" });

/** One profile per server, each of that server alone, for config.json's `profiles`. */
export function oneTargetProfiles(specs: ServerSpec[]): Record<string, object> {
  return Object.fromEntries(specs.map((spec) => [profileOf(spec.name).name, { targets: [spec.name] }]));
}

/** The same server through a profile of it alone: `dist/msm proxy --profile p-NAME`, the script's names prefixed. */
export function profileLaunch(sandbox: Sandbox, target: string, project: string, env: Record<string, string> = {}): Launch {
  const profile = profileOf(target);
  return { ...msmLaunch(sandbox, target, project, env), args: ["proxy", "--profile", profile.name], profile };
}

const isLog = (text: string) => (m: Message) => m.method === "notifications/message" && JSON.stringify(m.params).includes(text);
const tool = (s: Scripted, name: string, args: Record<string, unknown> = {}, options?: { progress?: boolean }) =>
  s.request("tools/call", { name, arguments: args }, options);

/**
 * A tool call with progress, cancelled once its first progress arrived; then waits for whatever the server still
 * sends for it (server-everything keeps reporting progress for a cancelled call: a direct client sees those too).
 */
async function cancelAfterFirstProgress(s: Scripted, name: string, args: Record<string, unknown>, steps: number): Promise<void> {
  const controller = new AbortController();
  const call = s.request("tools/call", { name, arguments: args }, { progress: true, signal: controller.signal });
  const sent = s.entries.findLast((e) => e.dir === "sent" && e.message.method === "tools/call");
  const token = (sent?.message.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
  const progress = (n: number) => (m: Message) =>
    m.method === "notifications/progress" && m.params?.progressToken === token && (m.params?.progress as number) >= n;
  await s.received(progress(1), 5_000);
  controller.abort("the user pressed Esc");
  await call;
  await s.received(progress(steps), 3_000);
}

export const everything: ServerSpec = {
  name: "everything",
  command: NODE,
  args: () => [EVERYTHING, "stdio"],
  async script(s) {
    // A client with roots is asked for them 350 ms after initialized, then told "Roots updated": wait for that, or
    // the get-roots-list below races the server's own request.
    if (s.capabilities.roots) await s.received(isLog("Roots updated"), 5_000);
    await s.request("tools/list");
    await s.request("prompts/list");
    await s.request("prompts/get", { name: "simple-prompt" });
    await s.request("prompts/get", { name: "args-prompt", arguments: { city: "Paris", state: "Texas" } });
    await s.request("completion/complete", { ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "department", value: "E" } });
    await s.request("resources/list");
    await s.request("resources/templates/list");
    await s.request("resources/read", { uri: "demo://resource/static/document/architecture.md" });
    await s.request("resources/read", { uri: "demo://resource/dynamic/text/1" });
    await s.request("resources/subscribe", { uri: "demo://resource/static/document/features.md" });
    await s.request("resources/unsubscribe", { uri: "demo://resource/static/document/features.md" });
    await s.request("logging/setLevel", { level: "info" });
    await tool(s, "echo", { message: "hello" });
    await tool(s, "get-sum", { a: 2, b: 3 });
    await tool(s, "get-tiny-image");
    await tool(s, "get-annotated-message", { messageType: "error", includeImage: true });
    await tool(s, "get-structured-content", { location: "New York" });
    await tool(s, "get-resource-links", { count: 2 });
    await tool(s, "get-resource-reference", { resourceType: "Text", resourceId: 2 });
    await tool(s, "trigger-long-running-operation", { duration: 0.3, steps: 3 }, { progress: true });
    await tool(s, "trigger-sampling-request", { prompt: "hello", maxTokens: 5 });
    await tool(s, "trigger-elicitation-request");
    await tool(s, "get-roots-list");
    await cancelAfterFirstProgress(s, "trigger-long-running-operation", { duration: 0.6, steps: 3 }, 3);
    await s.request("ping");
  },
};

/** server-filesystem's stderr once it settled its allowed folders after initialized. */
export const FOLDERS_SETTLED =
  /Client does not support MCP Roots|Updated allowed directories from MCP roots|No valid root directories|Client returned no roots set|Failed to request initial roots/;

export const filesystem: ServerSpec = {
  name: "filesystem",
  command: NODE,
  args: (f) => [FILESYSTEM, f.dir],
  async script(s, f) {
    // Right after initialized the server settles its folders: a client with roots is asked for them and they
    // replace the configured ones; without roots it keeps them. Either way it says so on stderr (msm's target log
    // when hosted): wait for that before asking which folders it allows.
    await s.serverSaid(FOLDERS_SETTLED, 5_000);
    await s.request("tools/list");
    await tool(s, "list_allowed_directories");
    await tool(s, "list_directory", { path: f.dir });
    await tool(s, "read_text_file", { path: join(f.dir, "a.txt") });
    await tool(s, "read_text_file", { path: join(f.roots, "r.txt") });
    await tool(s, "directory_tree", { path: f.dir });
    await tool(s, "read_multiple_files", { paths: [join(f.dir, "sub", "b.txt"), join(f.roots, "r.txt")] });
    await tool(s, "search_files", { path: f.dir, pattern: "*.txt" });
    await s.request("ping");
  },
};

export const memory: ServerSpec = {
  name: "server-memory",
  command: NODE,
  args: () => [OFFICIAL_MEMORY],
  directEnv: (runDir) => ({ MEMORY_FILE_PATH: join(runDir, "memory.jsonl") }),
  hostedEnv: { MEMORY_FILE_PATH: "{project}/memory.jsonl" },
  async script(s) {
    await s.request("tools/list");
    await tool(s, "create_entities", {
      entities: [
        { name: "Alice", entityType: "person", observations: ["likes tea"] },
        { name: "Bob", entityType: "person", observations: ["likes coffee"] },
      ],
    });
    await tool(s, "create_relations", { relations: [{ from: "Alice", to: "Bob", relationType: "knows" }] });
    await tool(s, "add_observations", { observations: [{ entityName: "Bob", contents: ["plays chess"] }] });
    await tool(s, "read_graph");
    await tool(s, "search_nodes", { query: "tea" });
    await tool(s, "open_nodes", { names: ["Bob", "Nobody"] });
    await tool(s, "delete_observations", { deletions: [{ entityName: "Bob", observations: ["likes coffee"] }] });
    await tool(s, "delete_relations", { relations: [{ from: "Alice", to: "Bob", relationType: "knows" }] });
    await tool(s, "delete_entities", { entityNames: ["Alice"] });
    await tool(s, "read_graph");
    await tool(s, "create_entities", { entities: [{ name: "", entityType: 5 }] });
    await s.request("resources/list");
    await s.request("ping");
  },
};

export const conformance: ServerSpec = {
  name: "conformance",
  command: BUN,
  args: () => [CONFORMANCE],
  async script(s) {
    await s.request("tools/list");
    for (const name of [
      "test_simple_text",
      "test_image_content",
      "test_audio_content",
      "test_embedded_resource",
      "test_multiple_content_types",
      "test_tool_with_logging",
      "test_error_handling",
    ])
      await tool(s, name);
    await tool(s, "test_tool_with_progress", {}, { progress: true });
    await tool(s, "test_sampling", { prompt: "Say hi" });
    await tool(s, "test_elicitation", { message: "Who are you?" });
    await tool(s, "test_elicitation_sep1034_defaults");
    await tool(s, "test_elicitation_sep1330_enums");
    await tool(s, "json_schema_2020_12_tool", { name: "x", address: { street: "s", city: "c" } });
    await tool(s, "no_such_tool");
    await s.request("resources/list");
    await s.request("resources/templates/list");
    await s.request("resources/read", { uri: "test://static-text" });
    await s.request("resources/read", { uri: "test://static-binary" });
    await s.request("resources/read", { uri: "test://template/42/data" });
    await s.request("resources/read", { uri: "test://missing" });
    await s.request("resources/subscribe", { uri: "test://watched-resource" });
    await s.request("resources/unsubscribe", { uri: "test://watched-resource" });
    await s.request("prompts/list");
    await s.request("prompts/get", { name: "test_simple_prompt" });
    await s.request("prompts/get", { name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } });
    await s.request("prompts/get", { name: "test_prompt_with_embedded_resource", arguments: { resourceUri: "test://x" } });
    await s.request("prompts/get", { name: "test_prompt_with_image" });
    await s.request("completion/complete", { ref: { type: "ref/prompt", name: "test_prompt_with_arguments" }, argument: { name: "arg1", value: "par" } });
    await s.request("logging/setLevel", { level: "warning" });
    await s.request("no/such/method");
    await s.request("ping");
  },
};

/** The TypeScript SDK v2 over stdio: the one server here that speaks 2026-07-28, so that cell negotiates it for real. */
export const modern: ServerSpec = {
  name: "modern-stdio",
  command: BUN,
  args: () => [MODERN],
  async script(s) {
    await s.request("tools/list");
    await tool(s, "echo", { text: "hi" });
    await tool(s, "add", { a: 2, b: 3 });
    await tool(s, "fail");
    await tool(s, "no_such_tool");
    await s.request("resources/list");
    await s.request("resources/read", { uri: "modern://note" });
    await s.request("prompts/list");
    await s.request("prompts/get", { name: "greet", arguments: { name: "Ada" } });
    await s.request("ping");
  },
};

export const MATRIX_SERVERS = [everything, filesystem, memory, conformance, modern];
