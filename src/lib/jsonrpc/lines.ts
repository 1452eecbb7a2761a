/**
 * Splits a byte stream into lines without quadratic copying: chunks are kept until a newline arrives, so a single
 * 16 MiB message costs one join, not thousands of string concatenations.
 */
export async function* readLines(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let parts: string[] = [];
  for await (const chunk of input) {
    let text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0) break;
      parts.push(text.slice(0, nl));
      const line = parts.join("");
      parts = [];
      text = text.slice(nl + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
    if (text) parts.push(text);
  }
  const rest = parts.join("");
  if (rest.trim() !== "") yield rest;
}
