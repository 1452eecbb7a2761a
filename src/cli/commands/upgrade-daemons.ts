import { defineCommand } from "citty";
import { replaceDaemons } from "../../lib/upgrade.ts";
import { VERSION } from "../../lib/version.ts";

export default defineCommand({
  meta: {
    name: "upgrade-daemons",
    description: "After installing a new msm: replace a supervisor and daemons of another version with this one, one at a time; open sessions carry on",
  },
  async run() {
    const say = (line: string) => process.stdout.write(line + "\n");
    const replaced = await replaceDaemons({ all: false, say });
    say(replaced.length ? `every running daemon is now msm ${VERSION}` : `every running daemon already is msm ${VERSION}`);
  },
});
