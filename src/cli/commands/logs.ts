import { closeSync, openSync, readSync, statSync } from "node:fs";
import { defineCommand } from "citty";
import { loadConfig, resolveTarget } from "../../lib/config.ts";
import { MsmError } from "../../lib/errors.ts";
import { tailLines } from "../../lib/log.ts";
import { SUPERVISOR } from "../../lib/manager.ts";
import { paths } from "../../lib/paths.ts";

/** How often `-f` looks for new lines. */
const FOLLOW_POLL_MS = 250;

export default defineCommand({
  meta: { name: "logs", description: "Print a daemon's log (stdout and stderr included); -f to follow" },
  args: {
    name: { type: "positional", description: `Target name, or "supervisor"`, required: true },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines as they are written", default: false },
    lines: { type: "string", alias: "n", description: "How many lines from the end to print first (default 50)" },
  },
  async run({ args }) {
    if (args.name !== SUPERVISOR) resolveTarget(loadConfig(), args.name);
    const count = args.lines === undefined ? 50 : Number(args.lines);
    if (!Number.isInteger(count) || count < 0) throw new MsmError("USAGE", `-n must be a whole number, not "${args.lines}".`);
    const file = paths.log(args.name);
    const lines = tailLines(file, count);
    if (lines.length) process.stdout.write(lines.join("\n") + "\n");
    else if (!args.follow) process.stderr.write(`msm: ${file} is empty or missing: the "${args.name}" daemon has not written anything yet.\n`);
    if (args.follow) await follow(file);
  },
});

/** tail -F: prints what is appended; a file that shrank was rotated (copied and truncated), so read it from the start. */
async function follow(file: string): Promise<never> {
  let offset = size(file);
  for (;;) {
    await Bun.sleep(FOLLOW_POLL_MS);
    const now = size(file);
    if (now < offset) offset = 0;
    if (now === offset) continue;
    const fd = openSync(file, "r");
    try {
      const buffer = Buffer.alloc(now - offset);
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      process.stdout.write(buffer.subarray(0, read));
      offset += read;
    } finally {
      closeSync(fd);
    }
  }
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
