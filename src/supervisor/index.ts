/**
 * The supervisor folder's public face: what commands call. Each part loads on demand, so `msm doctor` never loads
 * the manager API's server and the supervisor never loads the doctor.
 */
import type { Check, DoctorReport } from "../lib/checks.ts";
import type { Config } from "../lib/config.ts";
import type { SupervisorOptions } from "./daemon.ts";
import type { StatusReport } from "./status.ts";

export type { SupervisorOptions } from "./daemon.ts";
export type { StatusReport } from "./status.ts";

/** Runs the supervisor in this process until it is told to exit (`msm supervisor`). */
export async function runSupervisor(options: SupervisorOptions): Promise<void> {
  return (await import("./daemon.ts")).runSupervisor(options);
}

/** `msm doctor`'s checks; `editorChecks` are install/'s, passed in by the command. */
export async function doctor(editorChecks?: (config: Config | undefined) => Promise<Check[]>): Promise<DoctorReport> {
  return (await import("./doctor.ts")).doctor(editorChecks);
}

/** `msm status`: the supervisor's view when one answers, else what the lock files say; config problems added. */
export async function statusReport(config?: Config): Promise<StatusReport> {
  return (await import("./status.ts")).statusReport(config);
}
