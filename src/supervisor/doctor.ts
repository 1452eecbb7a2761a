/**
 * `msm doctor`: everything that must be true for editors' sessions to share msm's daemons, each check saying how to
 * fix what it found. Read-only: it starts nothing and changes nothing.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join, win32 } from "node:path";
import { checkPrivateFile, mine, type Check, type DoctorReport } from "../lib/checks.ts";
import { loadConfig, parseConfig, resolveTarget, targetNames, type Config } from "../lib/config.ts";
import { errnoCode } from "../lib/errors.ts";
import { listLocks, parseLockFile, ownerAlive } from "../lib/lock.ts";
import { callSupervisor } from "../lib/contracts/supervisor-api.ts";
import { findSupervisor, SUPERVISOR } from "../lib/manager.ts";
import { msmHome, paths, tilde, userHome } from "../lib/paths.ts";
import { probe } from "../lib/probe.ts";
import { clearSecrets, secretNameFor } from "../lib/secrets/clear.ts";
import { POSIX_MODES } from "../lib/trust.ts";
import { VERSION } from "../lib/version.ts";

/**
 * Runs every check. `editorChecks` are the install folder's (editors' config files, installs.json): the command
 * passes them in, so this folder needs nothing from install/.
 */
export async function doctor(editorChecks: (config: Config | undefined) => Promise<Check[]> = async () => []): Promise<DoctorReport> {
  const checks: Check[] = [];
  checks.push(checkHome());
  const { check: configCheck, config } = checkConfig();
  checks.push(configCheck);
  checks.push(checkConfigSecrets());
  checks.push(checkPrivateFile("token", paths.token(), "created by the first session", true));
  checks.push(...(await editorChecks(config)));
  checks.push(...(await checkDaemons(config)));
  checks.push(...checkStaleLocks());
  if (config) checks.push(...(await checkPorts(config)));
  return { ok: checks.every((c) => c.status !== "fail"), version: VERSION, home: msmHome(), checks };
}

function checkHome(): Check {
  const home = msmHome();
  const name = "MSM_HOME";
  try {
    const st = statSync(home);
    if (!st.isDirectory()) return { name, status: "fail", detail: `${home} is not a directory`, fix: `move it away; msm creates the folder` };
    if (!mine(st.uid)) return { name, status: "fail", detail: `${home} belongs to another user`, fix: `point MSM_HOME at a folder of your own` };
    if (!POSIX_MODES) return windowsHome(home);
    if ((st.mode & 0o077) !== 0)
      return { name, status: "fail", detail: `${home} is open to other users (mode ${(st.mode & 0o777).toString(8)})`, fix: `chmod 700 ${home}` };
    return { name, status: "ok", detail: `${tilde(home)} (private)` };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { name, status: "ok", detail: `${tilde(home)} not created yet (the first session creates it)` };
    return { name, status: "fail", detail: `cannot read ${home} (${errnoCode(error)})`, fix: "check its permissions" };
  }
}

/**
 * Windows has no modes to check (every file reports 0666): who may read the token and config.json is the folder's
 * ACL. A folder in the user's profile lets in only that user (and administrators) by default; anywhere else it
 * depends on how it was made, which msm does not read — said as a warning, never a failure.
 */
export function windowsHome(home: string, profile = userHome()): Check {
  const name = "MSM_HOME";
  // win32.relative ignores case, as Windows does; another drive comes back absolute.
  const rel = win32.relative(profile, home);
  const inside = rel.split("\\")[0] !== ".." && !win32.isAbsolute(rel);
  if (inside) return { name, status: "ok", detail: `${home} (in your user profile, private by its ACL)` };
  return {
    name,
    status: "warn",
    detail: `${home} is outside your user profile (${profile}): whether others can read the token and config.json is up to its ACL`,
    fix: `keep MSM_HOME under ${profile}, or check who may read it: icacls "${home}"`,
  };
}

function checkConfig(): { check: Check; config: Config | undefined } {
  const file = paths.config();
  const privacy = checkPrivateFile("config.json", file, "defaults");
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    // A config.json others may write is refused by loadConfig too; the privacy check's fix is the precise one.
    if (privacy.status === "fail") return { check: privacy, config: undefined };
    return {
      check: { name: "config.json", status: "fail", detail: (error as Error).message, fix: `fix ${file}, then run msm doctor again` },
      config: undefined,
    };
  }
  if (privacy.status !== "ok") return { check: privacy, config };
  const broken = Object.values(config.brokenProfiles ?? {});
  if (broken.length)
    return {
      check: { name: "config.json", status: "fail", detail: broken.join("; "), fix: `fix ${file} (docs/profiles.md), then run msm doctor again` },
      config,
    };
  const profiles = Object.entries(config.profiles ?? {}).map(([name, p]) => `${name} (${p.targets.length} targets, ${p.mode})`);
  const detail = `${privacy.detail}, ${targetNames(config).length} targets: ${targetNames(config).join(", ")}${profiles.length ? `; profiles: ${profiles.join(", ")}` : ""}`;
  return { check: { name: "config.json", status: "ok", detail }, config };
}

/**
 * Secrets written in clear in config.json (read as plain JSON, broken entries too): where, and how to move each to
 * the keychain. Never the value.
 */
function checkConfigSecrets(): Check {
  const name = "secrets in config.json";
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.config(), "utf8"));
  } catch {
    return { name, status: "ok", detail: "none (no readable config.json)" };
  }
  const targets = raw && typeof raw === "object" ? (raw as { targets?: unknown }).targets : undefined;
  const places: string[] = [];
  const fixes: string[] = [];
  for (const [target, entry] of Object.entries(targets && typeof targets === "object" ? targets : {})) {
    for (const found of clearSecrets(entry)) {
      places.push(`targets.${target}.${found.where} (${found.why})`);
      if (found.where === "database")
        fixes.push(`move the password of targets.${target}.database to ~/.pgpass (or PGPASSWORD where the supervisor starts) and drop it from the URL`);
      else {
        const secret = secretNameFor(target, found.where);
        fixes.push(`msm secret set ${secret} (paste the value), then write \${secret:${secret}} in its place`);
      }
    }
  }
  if (!places.length) return { name, status: "ok", detail: "none in clear" };
  return { name, status: "warn", detail: `${tilde(paths.config())}: ${places.join("; ")}`, fix: fixes.join("; ") };
}

/** The supervisor and every running daemon answer, and run this version. */
async function checkDaemons(config: Config | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  const lock = parseLockFile(paths.lock(SUPERVISOR));
  const supervisorLive = lock && ownerAlive(lock);
  const manager = supervisorLive ? await findSupervisor() : undefined;
  if (!supervisorLive) checks.push({ name: "supervisor", status: "ok", detail: "not running (the next session starts it)" });
  else if (!manager)
    checks.push({
      name: "supervisor",
      status: "fail",
      detail: `pid ${lock.pid} holds supervisor.lock but does not answer on port ${lock.port}`,
      fix: `kill ${lock.pid} (the next session starts a new one); see msm logs supervisor`,
    });
  else if (lock.version !== VERSION)
    checks.push({
      name: "supervisor",
      status: "fail",
      detail: `pid ${lock.pid} runs msm ${lock.version}, this binary is ${VERSION}`,
      fix: "msm stop --all (the next session starts this version)",
    });
  else checks.push({ name: "supervisor", status: "ok", detail: `pid ${lock.pid} on 127.0.0.1:${lock.port}, version ${lock.version}` });

  let states = new Map<string, { state: string; note: string | null }>();
  if (manager) {
    try {
      const status = await callSupervisor(manager, "status", {}, 5_000);
      states = new Map(status.targets.map((t) => [t.name, t]));
    } catch (error) {
      checks.push({ name: "supervisor", status: "fail", detail: (error as Error).message, fix: "msm logs supervisor" });
    }
  }
  for (const entry of listLocks()) {
    if (entry.name === SUPERVISOR || !entry.alive || !entry.info) continue;
    const name = `target ${entry.name}`;
    const info = entry.info;
    let target;
    try {
      // An unreadable config.json still leaves the built-in targets, which need no entry.
      target = resolveTarget(config ?? parseConfig("{}"), entry.name);
    } catch {}
    if (!target) {
      checks.push({ name, status: "warn", detail: `daemon pid ${info.pid} runs but "${entry.name}" is not in config.json`, fix: `msm stop ${entry.name}` });
      continue;
    }
    if (info.version !== VERSION) {
      checks.push({
        name,
        status: "fail",
        detail: `daemon pid ${info.pid} runs msm ${info.version}, this binary is ${VERSION}`,
        fix: `msm restart ${entry.name}`,
      });
      continue;
    }
    const answers = await probe(target, info);
    checks.push(
      answers
        ? { name, status: "ok", detail: `pid ${info.pid} answers on 127.0.0.1:${info.port}` }
        : {
            name,
            status: "fail",
            detail: `pid ${info.pid} does not answer on 127.0.0.1:${info.port}`,
            fix: `msm restart ${entry.name}; see msm logs ${entry.name}`,
          },
    );
  }
  for (const [targetName, t] of states) {
    if (t.state === "failed")
      checks.push({
        name: `target ${targetName}`,
        status: "fail",
        detail: `failed: ${t.note ?? "crash loop"}`,
        fix: `msm logs ${targetName}, fix the cause, then msm restart ${targetName}`,
      });
    if (t.state === "degraded")
      checks.push({
        name: `target ${targetName}`,
        status: "fail",
        detail: `degraded: ${t.note ?? "a child failed"}`,
        fix: `msm status shows each child's last stderr; fix the cause, then msm restart ${targetName}`,
      });
  }
  return checks;
}

/** Lock files whose owner is gone: harmless (the next start clears them) but a sign of a crash, and worth a look. */
function checkStaleLocks(): Check[] {
  const stale: string[] = [];
  for (const entry of listLocks()) if (!entry.alive) stale.push(paths.lock(entry.name));
  let files: string[] = [];
  try {
    files = readdirSync(msmHome()).filter((f) => f.endsWith(".starting"));
  } catch {}
  for (const f of files) {
    const info = parseLockFile(join(msmHome(), f));
    if (!info || !ownerAlive(info)) stale.push(join(msmHome(), f));
  }
  if (stale.length === 0) return [{ name: "locks", status: "ok", detail: "no stale lock files" }];
  return [{ name: "locks", status: "fail", detail: `stale: ${stale.map(tilde).join(", ")} (their process is gone)`, fix: `rm ${stale.join(" ")}` }];
}

/** Configured ports held by some other program: not fatal (msm takes a free port), but the config no longer says where. */
async function checkPorts(config: Config): Promise<Check[]> {
  const ours = new Set(
    listLocks()
      .filter((l) => l.alive && l.info)
      .map((l) => l.info!.port),
  );
  const wanted: [string, number][] = [["supervisor", config.supervisor.port]];
  for (const name of targetNames(config)) {
    try {
      const t = resolveTarget(config, name);
      if (t.port > 0) wanted.push([name, t.port]);
    } catch {}
  }
  const busy: string[] = [];
  for (const [name, port] of wanted) if (port > 0 && !ours.has(port) && !(await portFree(port))) busy.push(`${port} (${name})`);
  if (busy.length === 0) return [{ name: "ports", status: "ok", detail: `configured ports free or used by msm: ${wanted.map(([, p]) => p).join(", ")}` }];
  return [
    {
      name: "ports",
      status: "warn",
      detail: `taken by another program: ${busy.join(", ")}; msm uses a free port instead`,
      fix: `change the port in ${paths.config()} if a fixed port matters to you`,
    },
  ];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}
