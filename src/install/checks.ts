/** `msm doctor`'s checks of what `msm install` wrote: installs.json and every editor file holding msm entries. */
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkPrivateFile, type Check } from "../lib/checks.ts";
import { targetNames, type Config } from "../lib/config.ts";
import { msmHome, tilde, userHome } from "../lib/paths.ts";
import { clearSecrets } from "../lib/secrets/clear.ts";
import { VERSION, VERSION_LINE } from "../lib/version.ts";
import { SCOPES, spotOf, type Place } from "./client.ts";
import { CLIENTS } from "./clients/index.ts";
import { classify, msmEntryOf } from "./entries.ts";
import { snapshot } from "./file.ts";
import { loadState, statePath } from "./state.ts";

/** How long `<binary> --version` may take before the binary counts as broken. */
const VERSION_TIMEOUT_MS = 10_000;

/** installs.json, then each editor file that runs msm. */
export async function installChecks(place: Place, config: Config | undefined): Promise<Check[]> {
  return [checkState(), ...(await checkClients(place, config))];
}

function checkState(): Check {
  const privacy = checkPrivateFile("installs.json", statePath(), "nothing installed yet");
  if (privacy.status === "fail") return privacy;
  try {
    const files = Object.keys(loadState().files).length;
    return { ...privacy, detail: `${privacy.detail}, ${files} editor files changed by msm` };
  } catch (error) {
    return { name: "installs.json", status: "fail", detail: (error as Error).message };
  }
}

/** Runs `<command> --version` once per binary; undefined when it cannot run. */
async function versionOf(argv: string[]): Promise<string | undefined> {
  try {
    const child = Bun.spawn([...argv, "--version"], { stdin: "ignore", stdout: "pipe", stderr: "ignore", env: process.env });
    const timer = setTimeout(() => child.kill("SIGKILL"), VERSION_TIMEOUT_MS);
    const [text, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    clearTimeout(timer);
    return code === 0 ? text.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Each client file holding msm entries: the binary they run exists and is this version; their targets exist. */
async function checkClients(place: Place, config: Config | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  const versions = new Map<string, Promise<string | undefined>>();
  const known = config ? targetNames(config) : undefined;
  let entries = 0;
  for (const client of CLIENTS) {
    for (const scope of SCOPES) {
      const spot = spotOf(client, scope, place);
      if (!spot || !existsSync(spot.file)) continue;
      const file = spot.file;
      const name = `${client.name} (${scope})`;
      let servers: Record<string, unknown>;
      try {
        servers = client.format.entries(snapshot(file).text, spot.container, file);
      } catch (error) {
        checks.push({
          name,
          status: "fail",
          detail: `cannot read ${tilde(file)}: ${(error as Error).message}`,
          fix: `fix the file; the editor cannot read it either`,
        });
        continue;
      }
      checks.push(...clearSecretsIn(client.name, scope, file, spot.container, servers));
      const problems: string[] = [];
      let count = 0;
      for (const [entryName, entry] of Object.entries(servers)) {
        const proxied = msmEntryOf(entry);
        if (proxied === undefined) continue;
        count++;
        const { command, args, env } = entry as { command: string; args: string[]; env?: Record<string, string> };
        const resolved = command.includes("/") || command.includes("\\") ? command : (Bun.which(command) ?? undefined);
        if (!resolved || !isExecutable(resolved)) {
          problems.push(`${entryName}: ${command} is missing or not executable`);
          continue;
        }
        const argv = [resolved, ...args.slice(0, args.indexOf("proxy"))];
        const key = argv.join("\0");
        if (!versions.has(key)) versions.set(key, versionOf(argv));
        const version = await versions.get(key);
        // `--version` names the commit and build too: the same version number built from other code is another msm.
        if (version !== VERSION_LINE)
          problems.push(`${entryName}: ${command} is ${version ? `version ${version}` : "not answering --version"}, this msm is ${VERSION_LINE}`);
        if (proxied.kind === "target" && known && !known.includes(proxied.name)) problems.push(`${entryName}: target "${proxied.name}" is not in config.json`);
        if (proxied.kind === "profile" && config && !(proxied.name in (config.profiles ?? {})))
          problems.push(`${entryName}: profile "${proxied.name}" is ${config.brokenProfiles?.[proxied.name] ? "invalid in" : "not in"} config.json`);
        const home = env?.MSM_HOME ?? join(userHome(), ".mcp-session-manager");
        if (home !== msmHome()) problems.push(`${entryName}: uses MSM_HOME ${home}, not ${msmHome()}`);
      }
      entries += count;
      if (count === 0) continue;
      if (problems.length) {
        const flag = scope === "user" ? "" : ` --scope ${scope}`;
        checks.push({
          name,
          status: "fail",
          detail: `${tilde(file)}: ${problems.join("; ")}`,
          fix: `msm install ${client.name}${flag} (rewrites msm's entries for this binary and MSM_HOME)`,
        });
      } else checks.push({ name, status: "ok", detail: `${tilde(file)}: ${count} msm entr${count === 1 ? "y" : "ies"}, binary ${VERSION}` });
    }
  }
  if (entries === 0)
    checks.push({
      name: "editors",
      status: "warn",
      detail: "no editor config runs msm yet",
      fix: "msm install (and msm import CLIENT to move existing servers behind msm)",
    });
  return checks;
}

/**
 * Secrets written in clear in an editor's entries: where (never the value), and how to move them — `msm import` puts
 * a stdio server's in the keychain; a URL server's header takes a variable the editor expands.
 */
function clearSecretsIn(client: string, scope: string, file: string, container: readonly string[], servers: Record<string, unknown>): Check[] {
  const places: string[] = [];
  let stdio = false;
  let remote = false;
  for (const [entryName, entry] of Object.entries(servers)) {
    for (const found of clearSecrets(entry)) {
      places.push(`${[...container, entryName].join(".")}.${found.where} (${found.why})`);
      if (classify(entry).kind === "remote") remote = true;
      else stdio = true;
    }
  }
  if (!places.length) return [];
  const flag = scope === "user" ? "" : ` --scope ${scope}`;
  const fixes = [
    ...(stdio ? [`msm import ${client}${flag} (moves each stdio server's secret to the keychain; config.json gets \${secret:NAME})`] : []),
    ...(remote
      ? [`for a URL server, write a variable the editor expands in its place (\${VAR}; VS Code and Cursor: \${env:VAR}) and set it where the editor starts`]
      : []),
  ];
  return [{ name: `secrets in ${client} (${scope})`, status: "warn", detail: `${tilde(file)}: ${places.join("; ")}`, fix: fixes.join("; ") }];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
