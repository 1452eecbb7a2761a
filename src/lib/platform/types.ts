/**
 * What msm needs to know about other processes, answered by each OS its own way (platform/linux.ts, darwin.ts,
 * windows.ts). undefined always means "cannot tell here", never "dead" or "none".
 */
export interface Platform {
  /** The process exists and is not a zombie. */
  isAlive(pid: number): boolean;
  /** An opaque value fixed for the life of the process: a pid recycled for another program has another one. */
  startTime(pid: number): string | undefined;
  /**
   * The command line of `pid` as this OS reports it, compared only with what the same process recorded for itself
   * (a lock msm wrote): msm never rewrites its argv, while some servers do (npm sets its title).
   */
  commandLine?(pid: number): string | undefined;
  /** Process group of `pid`. Windows has none: a daemon's process tree stands in, so the daemon is its own group. */
  groupOf(pid: number): number | undefined;
  /** Live (non-zombie) members of group `pgid`, if they can be listed. */
  groupMembers(pgid: number): number[] | undefined;
  /** Does anything still run in group `pgid` (at least the leader, or what it left behind)? */
  groupAlive(pgid: number): boolean;
  rssBytes(pid: number): number | undefined;
  /** Established TCP connections to local `port`. */
  connectionsTo(port: number): number | undefined;
  /** Signals a whole group (Windows: the process tree). */
  signalGroup(pgid: number, sig: NodeJS.Signals): boolean;
  /** The argv to spawn `argv` directly, no shell in between (Windows: `npx` is a .cmd shim a shell would run). */
  resolveCommand(argv: string[]): string[];
}
