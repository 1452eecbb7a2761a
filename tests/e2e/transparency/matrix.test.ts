// The differential transparency matrix: every server × client protocol version × with/without client capabilities
// (roots, sampling, elicitation). Each cell runs one scripted session directly (the editor spawning the server over
// stdio) and through `dist/msm proxy --target NAME` with the server hosted as a stdio target (default share:
// project; one project per cell, so each cell's session is its child's only one), and the msm transcript must equal
// the direct one message by message. For the newest version of each client SDK the direct side runs twice and the
// two runs must agree: that proves the normalisation list in tests/helpers/transcript.ts is enough. Every cell also
// runs through a profile of its server alone (`msm proxy --profile p-NAME`, docs/profiles.md), which must equal the
// direct run apart from the profile's documented names (normalisation item 4). Cells run a few at a time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Sandbox } from "../../helpers/sandbox.ts";
import { VERSIONS, asDirect, differences, dump, pool, runSession, type Capabilities, type Transcript, type Version } from "../../helpers/transcript.ts";
import {
  MATRIX_SERVERS,
  directLaunch,
  hostedTargets,
  makeFolders,
  msmLaunch,
  oneTargetProfiles,
  profileLaunch,
  profileOf,
  type Folders,
  type ServerSpec,
} from "./servers.ts";

/** Cells at once: each is three sessions and up to three server processes (plus msm's host). */
const CONCURRENCY = Number(process.env.MSM_TRANSPARENCY_CONCURRENCY ?? 4);

/**
 * Cells whose direct side runs twice, to prove the normalisation list is enough: one per client SDK (1.32 and v2)
 * for every server and capability set. The other versions differ from these only in the version string.
 */
const STABILITY_VERSIONS: Version[] = ["2025-11-25", "2026-07-28"];

/** MSM_TRANSPARENCY_DUMP=DIR writes each cell's three normalised transcripts there, for a side-by-side diff. */
const DUMP = process.env.MSM_TRANSPARENCY_DUMP;

interface Cell {
  label: string;
  server: ServerSpec;
  version: Version;
  withCapabilities: boolean;
}

interface Result {
  direct: Transcript;
  stable: string[];
  differs: string[];
  /** A second session through msm in the same project, answered from the discovery cache the first one filled. */
  cachedDiffers?: string[];
  /** Through a profile of the server alone, in a project of its own. */
  profileDiffers: string[];
  ms: number;
}

/** MSM_TRANSPARENCY_ONLY=REGEX runs only the cells whose label matches (for looking into one). */
const ONLY = process.env.MSM_TRANSPARENCY_ONLY ? new RegExp(process.env.MSM_TRANSPARENCY_ONLY) : undefined;

const cells: Cell[] = MATRIX_SERVERS.flatMap((server) =>
  VERSIONS.flatMap((version) =>
    [false, true].map((withCapabilities) => ({
      label: `${server.name} · ${version} · ${withCapabilities ? "roots+sampling+elicitation" : "no capabilities"}`,
      server,
      version,
      withCapabilities,
    })),
  ),
).filter((cell) => !ONLY || ONLY.test(cell.label));

describe("transparency matrix: each cell through msm equals the direct run", () => {
  let sandbox: Sandbox;
  let folders: Folders;
  const results = new Map<string, Result>();
  let elapsed = 0;

  beforeAll(async () => {
    const started = Date.now();
    sandbox = new Sandbox({ targets: { memory: { port: 0 } } });
    folders = makeFolders(sandbox.root);
    // Written after the sandbox exists: the configured folder lives inside it.
    await Bun.write(
      `${sandbox.msmHome}/config.json`,
      JSON.stringify({ targets: { memory: { port: 0 }, ...hostedTargets(MATRIX_SERVERS, folders) }, profiles: oneTargetProfiles(MATRIX_SERVERS) }, null, 2),
    );
    let n = 0;
    await pool(
      CONCURRENCY,
      cells.map((cell) => async () => {
        const t0 = Date.now();
        const project = sandbox.project(`cell-${n++}-${cell.server.name}-${cell.version}-${cell.withCapabilities ? "caps" : "bare"}`);
        const capabilities: Capabilities = cell.withCapabilities ? { roots: [folders.roots], sampling: true, elicitation: true } : {};
        const script = (s: Parameters<ServerSpec["script"]>[0]) => cell.server.script(s, folders);
        const run = (launch: ReturnType<typeof directLaunch>) =>
          runSession("editor", cell.version, capabilities, launch, script, { connected: (pid) => sandbox.track(pid ?? undefined) });
        const twice = STABILITY_VERSIONS.includes(cell.version);
        // The profile's session gets a project of its own: it shares no child with the msm session beside it.
        const profiled = sandbox.project(`cell-${n++}-${cell.server.name}-${cell.version}-${cell.withCapabilities ? "caps" : "bare"}-profile`);
        const [first, second, through, viaProfile] = await Promise.all([
          run(directLaunch(cell.server, folders, sandbox.env, project)),
          twice ? run(directLaunch(cell.server, folders, sandbox.env, project)) : undefined,
          run(msmLaunch(sandbox, cell.server.name, project)),
          run(profileLaunch(sandbox, cell.server.name, profiled)),
        ]);
        // The discovery cache: a later session of the same project and client shape is answered from what the first
        // one saw until its first real call (the server then starts). It must look the same as the direct run.
        // Left out: cells with roots (a server that asks for roots on its own right after initialized asks when it
        // starts instead, and the scripts wait on that answer before their first request), and server-memory, whose
        // second session in a project sees the first one's graph (its direct runs each get a fresh file).
        const cacheable = twice && !cell.withCapabilities && !cell.server.hostedEnv;
        const cached = cacheable ? await run(msmLaunch(sandbox, cell.server.name, project)) : undefined;
        results.set(cell.label, {
          direct: first,
          stable: second ? differences(first, second) : [],
          differs: differences(first, through),
          ...(cached ? { cachedDiffers: differences(first, cached) } : {}),
          profileDiffers: differences(first, asDirect(viaProfile, profileOf(cell.server.name), first)),
          ms: Date.now() - t0,
        });
        if (DUMP)
          dump(DUMP, cell.label, {
            direct: first,
            ...(second ? { again: second } : {}),
            msm: through,
            ...(cached ? { cached } : {}),
            profile: asDirect(viaProfile, profileOf(cell.server.name), first),
          });
      }),
    );
    elapsed = Date.now() - started;
  }, 300_000);

  afterAll(async () => {
    const equal = [...results.values()].filter((r) => r.stable.length === 0 && r.differs.length === 0 && r.profileDiffers.length === 0).length;
    const lines = [`transparency matrix: ${results.size} cells run, ${equal} equal, ${results.size - equal} differ (${(elapsed / 1000).toFixed(1)} s)`];
    for (const [label, r] of results) if (r.differs.length) lines.push(`  ≠ ${label}: ${r.differs[0]!.split("\n")[0]}`);
    for (const [label, r] of results) if (r.cachedDiffers?.length) lines.push(`  ≠ ${label} (cached): ${r.cachedDiffers[0]!.split("\n")[0]}`);
    for (const [label, r] of results) if (r.profileDiffers.length) lines.push(`  ≠ ${label} (profile): ${r.profileDiffers[0]!.split("\n")[0]}`);
    console.log(lines.join("\n"));
    await sandbox?.cleanup();
  });

  for (const cell of cells) {
    test(cell.label, () => {
      const result = results.get(cell.label);
      expect(result, "the cell ran").toBeDefined();
      // The direct side is deterministic under the normalisation list: otherwise the list, not msm, is wrong.
      expect(result!.stable).toEqual([]);
      expect(result!.direct.connectError).toBeUndefined();
      // The one server that speaks 2026-07-28 does so with a 2026-07-28 client (directly; through msm, by the next line).
      if (cell.server.name === "modern-stdio" && cell.version === "2026-07-28") expect(result!.direct.negotiated).toBe("2026-07-28");
      expect(result!.differs).toEqual([]);
      if (result!.cachedDiffers) expect(result!.cachedDiffers).toEqual([]);
      expect(result!.profileDiffers).toEqual([]);
    });
  }
});
