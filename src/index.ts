// Editors send SIGINT to every MCP process of other sessions (Claude Code: SIGINT, +100 ms SIGTERM, +400 ms
// SIGKILL). A proxy must shrug off the first, so its handler goes in before any other module is loaded (the TTY check
// imports only node:fs). A person who
// started `msm proxy` in a terminal (stdin is a TTY, never so for an editor) keeps Ctrl-C.
import { stdinIsTerminal } from "./lib/platform/tty.ts";
import { leanProxy } from "./lib/platform/lean.ts";

if (process.argv[2] === "proxy") leanProxy();
if (process.argv[2] === "proxy" && !stdinIsTerminal()) process.on("SIGINT", () => {});

const { main } = await import("./cli/main.ts");
await main(process.argv.slice(2));
