import { resolve } from "node:path";

/** `node` by absolute path, so hosted-server tests need neither npx nor the network. */
export const NODE = Bun.which("node") ?? "node";

export const FILESYSTEM = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
export const EVERYTHING = resolve(import.meta.dir, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** The text of a tool result. */
export function textOf(result: object): string {
  return (((result as { content?: unknown }).content as { type: string; text?: string }[]) ?? []).map((c) => c.text ?? "").join("\n");
}
