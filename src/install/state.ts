import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import { MsmError, errnoCode } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { ensureHome, msmHome } from "../lib/paths.ts";

/**
 * What msm did to each editor config file, so `uninstall` can undo it exactly: entries it added (with what the
 * format needs to remove them byte for byte) and entries `import` replaced (with their original source text).
 * Kept in MSM_HOME/installs.json, mode 0600: the original entries may carry secrets in their `env`.
 */
const EntryRecordSchema = z.object({
  name: z.string(),
  /** Set when msm added the entry: the format's undo facts. */
  added: z.optional(z.record(z.string(), z.union([z.string(), z.boolean(), z.number()]))),
  /** Set when `import` replaced a server: its exact original text. */
  replaced: z.optional(z.string()),
});
export type EntryRecord = z.infer<typeof EntryRecordSchema>;

const FileRecordSchema = z.object({
  client: z.string(),
  scope: z.string(),
  /** The file did not exist before msm wrote it (removed again when msm's last entry goes). */
  createdFile: z.optional(z.boolean()),
  /** msm also created the folder holding it. */
  createdDir: z.optional(z.boolean()),
  /** In the order they were made; undone in reverse. */
  entries: z.array(EntryRecordSchema),
});
export type FileRecord = z.infer<typeof FileRecordSchema>;

const StateSchema = z.object({ files: z.record(z.string(), FileRecordSchema) });
export type State = z.infer<typeof StateSchema>;

export const statePath = () => join(msmHome(), "installs.json");

export function loadState(): State {
  let text: string;
  try {
    text = readFileSync(statePath(), "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { files: {} };
    throw new MsmError("INSTALL_FAILED", `Cannot read ${statePath()} (${errnoCode(error) ?? String(error)}).`, { cause: error });
  }
  try {
    const parsed = StateSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {}
  throw new MsmError(
    "INSTALL_FAILED",
    `${statePath()} is damaged, so msm cannot tell which entries it replaced. Restore it from ${statePath()}.msm-backup if there is one, or move it away (uninstall will then only remove msm's own entries).`,
  );
}

export function saveState(state: State): void {
  ensureHome();
  for (const [file, record] of Object.entries(state.files)) if (record.entries.length === 0) delete state.files[file];
  writeFileAtomic(statePath(), JSON.stringify(state, null, 2) + "\n", 0o600);
}
