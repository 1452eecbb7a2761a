export interface SseEvent {
  event: string;
  data: string;
  id?: string;
  /** The server's reconnection delay (`retry:` field), in milliseconds. */
  retry?: number;
}

/**
 * Parses a text/event-stream body into events (WHATWG rules: `data` lines joined with \n, a blank line ends an
 * event, lines starting with `:` are comments such as keep-alives). Only each new chunk is searched for line ends
 * and a partial line is kept as a list of pieces, so a 16 MiB message costs one join, not a rescan per chunk.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let partial: string[] = [];
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;

  function* line(raw: string): Generator<SseEvent> {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (text === "") {
      if (data.length) yield { event: event || "message", data: data.join("\n"), id, retry };
      event = "";
      data = [];
      retry = undefined;
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\0")) id = value;
    else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
  }

  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      partial.push(text.slice(start, nl));
      start = nl + 1;
      const whole = partial.length === 1 ? partial[0]! : partial.join("");
      partial = [];
      yield* line(whole);
    }
    if (start < text.length) partial.push(text.slice(start));
  }
  if (partial.length) yield* line(partial.join(""));
  if (data.length) yield { event: event || "message", data: data.join("\n"), id, retry };
}
