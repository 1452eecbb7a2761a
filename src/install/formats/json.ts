import { jsoncFormat } from "./jsonc.ts";

/**
 * Plain JSON files (`~/.claude.json`, `.mcp.json`, Cursor's and Claude Desktop's): edited with the JSONC editor so
 * the rest of the file stays byte for byte, but a file with comments is refused since its readers expect JSON.
 */
export const json = jsoncFormat(true);
