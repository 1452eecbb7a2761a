/**
 * `npm run bench [part…] [--option …]`: runs every bench/<part>.bench.ts in turn (each prints its own table), or only
 * the named parts. Everything from the first `--option` on is passed to each part (`npm run bench -- recall --data
 * DIR`). Benchmarks live here, not in the test suite, so a busy machine slows a number instead of failing a build.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith("-"));
const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
const options = firstOption < 0 ? [] : args.slice(firstOption);
const parts = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .filter((p) => wanted.length === 0 || wanted.includes(p))
  .sort();

let failed = 0;
for (const part of parts) {
  console.error(`\n=== bench: ${part} ===`);
  const child = Bun.spawn([process.execPath, join(dir, `${part}.bench.ts`), ...options], { stdio: ["inherit", "inherit", "inherit"] });
  if ((await child.exited) !== 0) failed++;
}
if (parts.length === 0) console.error("no benchmarks matched");
process.exit(failed ? 1 : 0);
