/**
 * Headers msm's own processes exchange (proxy → daemon), named once for every side. No imports: the proxy loads this
 * at start-up.
 */

/** The editor session's project folder, sent by the proxy to the memory daemon and to stdio hosts; never to a remote
 * server (the relay strips it). */
export const PROJECT_HEADER = "mcp-project-path";

/**
 * Where the proxy puts its own environment in the editor's `initialize` (params._meta) for a stdio host: a hosted
 * child for a project or a session is started with the environment of the session that starts it, exactly what the
 * editor would have given the server directly. The host removes it before anything else sees the message; no other
 * daemon is ever sent it.
 */
export const SESSION_ENV_META = "msm/sessionEnv";
