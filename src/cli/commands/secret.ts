import { defineCommand } from "citty";
import { many, UsageError } from "../args.ts";

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Targets in config.json that use each keychain name, read as plain JSON (a broken entry still counts). */
async function usedBy(): Promise<Map<string, string[]>> {
  const { readFileSync } = await import("node:fs");
  const { paths } = await import("../../lib/paths.ts");
  const { secretUses } = await import("../../lib/secrets/references.ts");
  try {
    return secretUses(JSON.parse(readFileSync(paths.config(), "utf8")));
  } catch {
    return new Map();
  }
}

const NAME = { type: "positional", description: "The keychain entry's name (letters, digits, '.', '_', '-')", required: true } as const;

const set = defineCommand({
  meta: {
    name: "set",
    description: "Store a secret in the OS keychain for ${secret:NAME}; the value is read from a prompt without echo, or from stdin",
  },
  args: { name: many(NAME) },
  async run({ args }) {
    // The value never comes from argv: ps shows it to every user and the shell's history keeps it. Not even echoed back here.
    if (args._.length > 1) {
      throw new UsageError(
        `"msm secret set" takes only NAME: the value is read from a prompt (or stdin), never from the command line, where ps and your shell's history would keep it. Run "msm secret set ${args._[0]}" and paste it.`,
        ["msm", "secret", "set"],
      );
    }
    const name = args._[0]!;
    const { readValue } = await import("../prompt.ts");
    const { setSecret } = await import("../../lib/secrets/keychain.ts");
    const value = await readValue(`Value for ${name} (input hidden): `);
    await setSecret(name, value);
    say(`Stored "${name}" in the keychain. Write \${secret:${name}} in a target's command, args, env, url or headers to use it.`);
    const users = (await usedBy()).get(name);
    if (users?.length) say(`Used by ${users.join(", ")}: it applies at their next start ("msm restart ${users[0]}" applies it now).`);
  },
});

const get = defineCommand({
  meta: { name: "get", description: "Print a secret msm keeps in the OS keychain (to stdout)" },
  args: { name: NAME },
  async run({ args }) {
    const { getSecret } = await import("../../lib/secrets/keychain.ts");
    const { MsmError } = await import("../../lib/errors.ts");
    const value = await getSecret(args.name);
    if (value === undefined) throw new MsmError("INPUT_INVALID", `No keychain entry "${args.name}". "msm secret list" shows the names msm knows.`);
    process.stdout.write(`${value}\n`);
  },
});

const rm = defineCommand({
  meta: { name: "rm", description: "Remove a secret from the OS keychain" },
  args: { name: NAME },
  async run({ args }) {
    const { deleteSecret } = await import("../../lib/secrets/keychain.ts");
    const { MsmError } = await import("../../lib/errors.ts");
    if (!(await deleteSecret(args.name))) throw new MsmError("INPUT_INVALID", `No keychain entry "${args.name}"; nothing was removed.`);
    say(`Removed "${args.name}" from the keychain.`);
    const users = (await usedBy()).get(args.name);
    if (users?.length) say(`Still used by ${users.join(", ")}: they will not start until it is set again.`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "The secrets msm stored or config.json uses, whether each is in the keychain, and which targets use it (never a value)" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const { getSecret, storedNames } = await import("../../lib/secrets/keychain.ts");
    const uses = await usedBy();
    const stored = new Map(storedNames().map((n) => [n.name, n.setAt]));
    const names = [...new Set([...stored.keys(), ...uses.keys()])].sort();
    let problem: string | undefined;
    const rows = [];
    for (const name of names) {
      let present: boolean | null = null;
      if (!problem) {
        try {
          present = (await getSecret(name)) !== undefined;
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      rows.push({ name, inKeychain: present, setAt: stored.get(name) ?? null, usedBy: uses.get(name) ?? [] });
    }
    if (args.json) say(JSON.stringify({ secrets: rows, ...(problem ? { problem } : {}) }, null, 2));
    else if (!rows.length) say('No secrets yet. Store one with "msm secret set NAME", then write ${secret:NAME} in config.json.');
    else {
      const cells = rows.map((r) => [
        r.name,
        r.inKeychain === null ? "?" : r.inKeychain ? "yes" : "MISSING",
        r.setAt ? r.setAt.slice(0, 10) : "-",
        r.usedBy.join(", ") || "-",
      ]);
      const head = ["NAME", "IN KEYCHAIN", "SET", "USED BY"];
      const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
      for (const line of [head, ...cells]) say(line.map((c, i) => (i < line.length - 1 ? c.padEnd(widths[i]!) : c)).join("  "));
    }
    if (problem) process.stderr.write(`msm: ${problem}\n`);
    if (problem || rows.some((r) => r.inKeychain === false && r.usedBy.length)) process.exitCode = 1;
  },
});

export default defineCommand({
  meta: { name: "secret", description: "Keep secrets for ${secret:NAME} references in the OS keychain: set, get, rm, list" },
  subCommands: { set, get, rm, list },
});
