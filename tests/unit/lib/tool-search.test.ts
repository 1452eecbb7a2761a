import { expect, test } from "bun:test";
import { identifierWords, queryTerms, requestText, type SearchableTool, ToolIndex } from "../../../src/lib/tool-search.ts";

test("identifiers are split into words: snake_case, camelCase, kebab-case, acronyms, dots", () => {
  expect(identifierWords("read_text_file")).toBe("read text file");
  expect(identifierWords("getCurrentTime")).toBe("get Current Time");
  expect(identifierWords("HTMLParser")).toBe("HTML Parser");
  expect(identifierWords("list-allowed-directories")).toBe("list allowed directories");
  expect(identifierWords("git.log/v2")).toBe("git log v2");
});

const tool = (target: string, name: string, description: string, properties: Record<string, object> = {}): SearchableTool => ({
  name: `${target}__${name}`,
  target,
  tool: { name, description, inputSchema: { type: "object", properties } },
});

const TOOLS = [
  tool("fs", "read_text_file", "Read the complete contents of a file from the file system as text.", { path: { type: "string" } }),
  tool("fs", "write_file", "Create a new file or completely overwrite an existing file with new content.", { path: {}, content: {} }),
  tool("fs", "list_directory", "Get a detailed listing of all files and directories in a specified path.", { path: {} }),
  tool("git", "git_log", "Shows the commit logs", { repo_path: {}, max_count: { description: "Maximum number of commits to show" } }),
  tool("git", "git_status", "Shows the working tree status", { repo_path: {} }),
  tool("time", "get_current_time", "Get current time in a specific timezone", { timezone: { description: "IANA timezone name" } }),
  tool("time", "convert_time", "Convert time between timezones", { source_timezone: {}, time: {}, target_timezone: {} }),
];

test("a request finds the tool by stemmed words of its name, description, parameters and target", () => {
  const index = new ToolIndex(TOOLS);
  const top = (query: string) => index.search(query, 3).map((f) => f.tool.name);
  expect(top("read a file")[0]).toBe("fs__read_text_file");
  expect(top("show the last commits")[0]).toBe("git__git_log");
  expect(top("what is the current time in Tokyo")[0]).toBe("time__get_current_time");
  expect(top("what time is it in Tokyo")).toContain("time__get_current_time");
  expect(top("list the files in this folder")[0]).toBe("fs__list_directory");
  expect(top("writing files")[0]).toBe("fs__write_file");
  expect(top("timezones conversion")[0]).toBe("time__convert_time");
});

test("nothing that matches gives nothing; the limit holds; equal scores keep the tools' order", () => {
  const index = new ToolIndex(TOOLS);
  expect(index.search("the of and", 5)).toEqual([]);
  expect(index.search("zebra", 5)).toEqual([]);
  expect(index.search("file", 2)).toHaveLength(2);
  const twins = new ToolIndex([tool("a", "same", "identical"), tool("b", "same", "identical")]);
  expect(twins.search("identical", 5).map((f) => f.tool.target)).toEqual(["a", "b"]);
});

test("a literal URL or file name in a request reads as url / file; synonyms match at half weight", () => {
  expect(requestText("download https://example.com/a?b=1 now")).toBe("download  url  now");
  expect(requestText("read src/main.py and notes.txt, then README")).toBe("read  file  and  file , then README");
  expect(requestText("version 2.0 is out")).toBe("version 2 0 is out");
  expect(Object.fromEntries(queryTerms(["folder"]))).toEqual({ folder: 1, directori: 0.5, dir: 0.5 });
  expect(Object.fromEntries(queryTerms(["folder"], false))).toEqual({ folder: 1 });
  const index = new ToolIndex(TOOLS);

  expect(index.search("download https://example.com", 3)).toEqual([]);
  expect(new ToolIndex(TOOLS, { synonyms: false }).search("what is in the folder", 3)).toEqual([]);
  expect(index.search("what is in the folder", 1)[0]!.tool.name).toBe("fs__list_directory");
});
