/**
 * What a tool's definition costs in a model's context, estimated without a tokenizer (docs/configuration.md "What
 * each tool costs"). An editor sends each tool to the model as its name, description and input schema, as JSON
 * (`{"name":…,"description":…,"input_schema":…}`); this counts that text's tokens with a byte-pair heuristic: the
 * text is cut the way BPE tokenizers pre-split it (letter runs, digit runs, whitespace, punctuation) and each piece
 * is weighed by a coefficient fitted by least squares against the o200k_base tokenizer (GPT-4o, GPT-5) on the tool
 * lists of the servers msm tests with. `npm run bench -- tokens` measures it again: on 104 tools of 8 servers, 1.8 %
 * mean error per tool (worst 9.6 %) and at most 2.2 % off on a server's total; on the 117 tools of GitHub's MCP
 * server, which it was not fitted to, 2.3 % mean per tool and 1.1 % on the total. No tokenizer ships in msm: the
 * estimate needs none of their vocabularies (megabytes), and the tokenizers of different models differ from each
 * other by more than this error anyway.
 */

/** Weights per piece, fitted against o200k_base (bench/tokens.bench.ts prints the fit's error). */
export const WEIGHTS = {
  /** Each run of ASCII letters (a word, or a part of an identifier between `_` and digits). */
  word: 0.55,
  /** Each letter of a run past its eighth: long words take several tokens. */
  longLetter: 0.06,
  /** Each camelCase hump (a lower-case letter followed by a capital): a new token most of the time. */
  hump: 0.47,
  /** Each group of up to three digits (BPE vocabularies hold numbers up to three digits). */
  digits: 1.1,
  /** Each run of ASCII punctuation (`":"`, `","`, `{"`), and each character of it. */
  punctRun: 0.84,
  punctChar: 0.2,
  /** Each run of whitespace. */
  space: 0.43,
  /** Each character outside ASCII: accented letters, CJK, emoji take a token or more each. */
  nonAscii: 1,
};

const PIECES = /[A-Za-z]+|[0-9]+|\s+|[^\sA-Za-z0-9]+/g;

/** Estimated tokens of `text` for a current byte-pair tokenizer. */
export function estimateTokens(text: string): number {
  let total = 0;
  for (const match of text.matchAll(PIECES)) {
    const piece = match[0];
    const first = piece.charCodeAt(0);
    if ((first >= 65 && first <= 90) || (first >= 97 && first <= 122)) {
      total += WEIGHTS.word + Math.max(0, piece.length - 8) * WEIGHTS.longLetter;
      for (let i = 1; i < piece.length; i++) {
        const a = piece.charCodeAt(i - 1);
        const b = piece.charCodeAt(i);
        if (a >= 97 && a <= 122 && b >= 65 && b <= 90) total += WEIGHTS.hump;
      }
    } else if (first >= 48 && first <= 57) total += Math.ceil(piece.length / 3) * WEIGHTS.digits;
    else if (/^\s/.test(piece)) total += WEIGHTS.space;
    else {
      let ascii = 0;
      for (const char of piece) if (char.charCodeAt(0) < 128) ascii++;
      total += WEIGHTS.punctRun + ascii * WEIGHTS.punctChar + ([...piece].length - ascii) * WEIGHTS.nonAscii;
    }
  }
  return Math.round(total);
}

/** A tool as the model sees it: what an editor sends for a tool from a `tools/list` answer. */
export function toolDefinitionText(tool: Record<string, unknown>): string {
  return JSON.stringify({ name: tool.name ?? "", description: tool.description ?? "", input_schema: tool.inputSchema ?? {} });
}

export function toolTokens(tool: Record<string, unknown>): number {
  return estimateTokens(toolDefinitionText(tool));
}

/** One line for a footnote: how the numbers were made. */
export const ESTIMATE_NOTE =
  "tokens: estimated for each tool's name, description and input schema as JSON (a byte-pair heuristic fitted to the o200k_base tokenizer; about 2 % off per tool, other models' tokenizers differ by more)";
