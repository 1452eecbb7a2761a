/**
 * Headers msm's own processes exchange (proxy → daemon), named once for every side. No imports: the proxy loads this
 * at start-up.
 */

/** The editor session's project folder, sent by the proxy to the memory daemon and to stdio hosts; never to a remote
 * server (the relay strips it). */
export const PROJECT_HEADER = "mcp-project-path";
