// Editors send SIGINT to every MCP process of other sessions (Claude Code: SIGINT, +100 ms SIGTERM, +400 ms
// SIGKILL). A proxy must shrug off the first, so its handler goes in before any module is even loaded. A person who
// started `msm proxy` in a terminal (stdin is a TTY, never so for an editor) keeps Ctrl-C.
if (process.argv[2] === "proxy" && !process.stdin.isTTY) process.on("SIGINT", () => {});

const { main } = await import("./cli/main.ts");
await main(process.argv.slice(2));

export {};
