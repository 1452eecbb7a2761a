import type { EditorClient } from "../client.ts";
import { claudeCode } from "./claude-code.ts";
import { claudeDesktop } from "./claude-desktop.ts";
import { codex } from "./codex.ts";
import { cursor } from "./cursor.ts";
import { vscode } from "./vscode.ts";

export const CLIENTS: readonly EditorClient[] = [claudeCode, claudeDesktop, cursor, vscode, codex];
export const CLIENT_NAMES = CLIENTS.map((c) => c.name);

export function clientNamed(name: string): EditorClient | undefined {
  return CLIENTS.find((c) => c.name === name);
}
