/**
 * What an install needs from a config file format, as text in and text out. Edits touch only the span of the entry
 * they name, so comments, order and layout elsewhere survive, and each edit can be undone exactly.
 */

/** Format-specific facts an exact undo of `add` needs (stored in MSM_HOME/installs.json). */
export type Undo = Record<string, string | boolean | number>;

export interface Format {
  /** The entries under `container`, by name ({} when the container or the file is absent). Throws on a bad file. */
  entries(text: string, container: readonly string[], file: string): Record<string, unknown>;
  /** The exact source text of one entry's value, to put back later. */
  entryText(text: string, container: readonly string[], name: string): string | undefined;
  /** Adds a new entry (creating the container, or the whole document from "", if needed). */
  add(text: string, container: readonly string[], name: string, value: Record<string, unknown>, file: string): { text: string; undo: Undo };
  /** Replaces an existing entry's value. */
  replace(text: string, container: readonly string[], name: string, value: Record<string, unknown>): string;
  /** Puts an entry's original source text back. */
  restore(text: string, container: readonly string[], name: string, original: string): string;
  /** Removes an entry `add` created; with the `undo` it returned, the text is exactly what it was before. */
  remove(text: string, container: readonly string[], name: string, undo: Undo): string;
}

/** A config file msm cannot read or cannot edit safely; the message names the file and the problem. */
export class FormatError extends Error {
  override readonly name = "FormatError";
}
