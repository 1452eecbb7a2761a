/**
 * A secret typed or pasted by a person: read from the terminal without echo, or from stdin when it is not a terminal
 * (`pass show x | msm secret set x`). Never from argv.
 */
import { MsmError } from "../lib/errors.ts";

export async function readValue(prompt: string): Promise<string> {
  const value = process.stdin.isTTY ? await hidden(prompt) : withoutNewline(await Bun.stdin.text());
  if (value === "") throw new MsmError("INPUT_INVALID", "No value was given; nothing was stored.");
  return value;
}

/** One trailing line break (what `echo` and a heredoc add) is not part of the value. */
function withoutNewline(text: string): string {
  return text.replace(/\r?\n$/, "");
}

/** Reads one line in raw mode, echoing nothing; Enter ends it, Ctrl-C or Ctrl-D on an empty line cancels. */
function hidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: whatever is typed once it is on screen must never reach the terminal.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      // A paste may come wrapped in bracketed-paste markers, a key in an escape sequence: neither is part of the value.
      for (const char of chunk.toString("utf8").replace(/\u001b\[[0-9;]*[A-Za-z~]/g, "")) {
        if (char === "\r" || char === "\n") return finish();
        if (char === "\u0003" || (char === "\u0004" && value === "")) return finish(new MsmError("INPUT_INVALID", "Cancelled; nothing was stored."));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else if (char >= " " && char !== "\u001b") value += char;
      }
    };
    stdin.on("data", onData);
  });
}
