/**
 * The Snowball English stemmer ("Porter2", Martin Porter's 2002 revision of his 1980 algorithm), written from the
 * published description at snowballstem.org/algorithms/english/stemmer.html. Porter2 fixes the best-known faults of
 * the original (`generous` and `generate` no longer meet, `-ly` adverbs are handled, `dying` becomes `die`), and it
 * is the stemmer PostgreSQL's `english` configuration uses, so tests/unit/lib/text/stem.test.ts can check this code
 * word for word against `ts_lexize('english_stem', …)` on a real server.
 *
 * Input: one lower-case word. Words of two letters or fewer come back unchanged.
 */

const VOWELS = new Set(["a", "e", "i", "o", "u", "y"]);
const DOUBLES = ["bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt"];
const LI_ENDINGS = new Set(["c", "d", "e", "g", "h", "k", "m", "n", "r", "t"]);

/**
 * Words the algorithm would get wrong, with the stems it lists for them; the invariant ones map to themselves. A Map,
 * not an object: `constructor` is a word too.
 */
const EXCEPTIONS = new Map<string, string>(
  Object.entries({
    skis: "ski",
    skies: "sky",
    dying: "die",
    lying: "lie",
    tying: "tie",
    idly: "idl",
    gently: "gentl",
    ugly: "ugli",
    early: "earli",
    only: "onli",
    singly: "singl",
    sky: "sky",
    news: "news",
    howe: "howe",
    atlas: "atlas",
    cosmos: "cosmos",
    bias: "bias",
    andes: "andes",
  }),
);
/** Left alone once step 1a has run (so `innings` → `inning`, never `inn`). */
const AFTER_1A = new Set(["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"]);
/** Prefixes whose R1 starts right after them, so their families keep one stem (`generous` ≠ `general`). */
const R1_PREFIXES = ["gener", "commun", "arsen"];

const STEP2: [string, string][] = [
  ["ization", "ize"],
  ["ational", "ate"],
  ["fulness", "ful"],
  ["ousness", "ous"],
  ["iveness", "ive"],
  ["tional", "tion"],
  ["biliti", "ble"],
  ["lessli", "less"],
  ["entli", "ent"],
  ["ation", "ate"],
  ["alism", "al"],
  ["aliti", "al"],
  ["ousli", "ous"],
  ["iviti", "ive"],
  ["fulli", "ful"],
  ["enci", "ence"],
  ["anci", "ance"],
  ["abli", "able"],
  ["izer", "ize"],
  ["ator", "ate"],
  ["alli", "al"],
  ["bli", "ble"],
  ["ogi", "og"],
  ["li", ""],
];
const STEP3: [string, string][] = [
  ["ational", "ate"],
  ["tional", "tion"],
  ["alize", "al"],
  ["icate", "ic"],
  ["iciti", "ic"],
  ["ative", ""],
  ["ical", "ic"],
  ["ness", ""],
  ["ful", ""],
];
const STEP4 = ["ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous", "ive", "ize", "ion", "al", "er", "ic"];

const STEP2_SUFFIXES = STEP2.map(([s]) => s);
const STEP2_REPLACEMENTS = new Map(STEP2);
const STEP3_SUFFIXES = STEP3.map(([s]) => s);
const STEP3_REPLACEMENTS = new Map(STEP3);

const isVowel = (c: string | undefined) => c !== undefined && VOWELS.has(c);

/** The longest of `suffixes` the word ends with (the algorithm always acts on the longest, or not at all). */
function longest(word: string, suffixes: readonly string[]): string | undefined {
  let found: string | undefined;
  for (const s of suffixes) if (word.endsWith(s) && (found === undefined || s.length > found.length)) found = s;
  return found;
}

/** Start of the region after the first non-vowel that follows a vowel, searching from `from`. */
function regionAfter(word: string, from: number): number {
  for (let i = from + 1; i < word.length; i++) if (!isVowel(word[i]) && isVowel(word[i - 1])) return i + 1;
  return word.length;
}

/**
 * A short syllable ends at `end` (exclusive): non-vowel, vowel, non-vowel other than w, x, Y; or, at the start of
 * the word, vowel then non-vowel.
 */
function shortSyllableAt(word: string, end: number): boolean {
  if (end === 2) return isVowel(word[0]) && !isVowel(word[1]);
  if (end < 3) return false;
  const [a, b, c] = [word[end - 3], word[end - 2], word[end - 1]!];
  return !isVowel(a) && isVowel(b) && !isVowel(c) && c !== "w" && c !== "x" && c !== "Y";
}

export function stem(input: string): string {
  if (input.length <= 2) return input;
  const exception = EXCEPTIONS.get(input);
  if (exception !== undefined) return exception;

  let word = input.startsWith("'") ? input.slice(1) : input;
  // A y that acts as a consonant is marked Y: at the start, and after a vowel.
  let marked = "";
  for (let i = 0; i < word.length; i++) marked += word[i] === "y" && (i === 0 || isVowel(word[i - 1])) ? "Y" : word[i];
  word = marked;

  const prefix = R1_PREFIXES.find((p) => word.startsWith(p));
  const r1 = prefix ? prefix.length : regionAfter(word, 0);
  const r2 = regionAfter(word, r1);
  const inR1 = (suffix: string) => word.length - suffix.length >= r1;
  const inR2 = (suffix: string) => word.length - suffix.length >= r2;
  const isShortWord = () => shortSyllableAt(word, word.length) && r1 >= word.length;

  // Step 0: possessives.
  const s0 = longest(word, ["'s'", "'s", "'"]);
  if (s0) word = word.slice(0, -s0.length);

  // Step 1a: plurals.
  const s1a = longest(word, ["sses", "ied", "ies", "us", "ss", "s"]);
  if (s1a === "sses") word = word.slice(0, -2);
  else if (s1a === "ied" || s1a === "ies") word = word.length > 4 ? word.slice(0, -2) : word.slice(0, -1);
  else if (s1a === "s") {
    // Deleted when the part before it holds a vowel that is not right before the s (gaps → gap, gas stays).
    const before = word.slice(0, -2);
    if ([...before].some(isVowel)) word = word.slice(0, -1);
  }
  if (AFTER_1A.has(word)) return word;

  // Step 1b: -ed, -ing and their adverbs.
  const s1b = longest(word, ["eedly", "ingly", "edly", "eed", "ing", "ed"]);
  if (s1b === "eed" || s1b === "eedly") {
    if (inR1(s1b)) word = `${word.slice(0, -s1b.length)}ee`;
  } else if (s1b) {
    const stemPart = word.slice(0, -s1b.length);
    if ([...stemPart].some(isVowel)) {
      word = stemPart;
      if (word.endsWith("at") || word.endsWith("bl") || word.endsWith("iz")) word += "e";
      else if (DOUBLES.some((d) => word.endsWith(d))) word = word.slice(0, -1);
      else if (isShortWord()) word += "e";
    }
  }

  // Step 1c: a final y after a consonant (not the first letter) becomes i.
  const last = word[word.length - 1];
  if ((last === "y" || last === "Y") && word.length > 2 && !isVowel(word[word.length - 2])) word = `${word.slice(0, -1)}i`;

  // Step 2: derivational suffixes in R1.
  const s2 = longest(word, STEP2_SUFFIXES);
  if (s2 && inR1(s2)) {
    if (s2 === "ogi") {
      if (word[word.length - 4] === "l") word = word.slice(0, -1);
    } else if (s2 === "li") {
      if (LI_ENDINGS.has(word[word.length - 3] ?? "")) word = word.slice(0, -2);
    } else word = word.slice(0, -s2.length) + STEP2_REPLACEMENTS.get(s2)!;
  }

  // Step 3.
  const s3 = longest(word, STEP3_SUFFIXES);
  if (s3 && inR1(s3)) {
    if (s3 === "ative") {
      if (inR2(s3)) word = word.slice(0, -5);
    } else word = word.slice(0, -s3.length) + STEP3_REPLACEMENTS.get(s3)!;
  }

  // Step 4: suffixes in R2.
  const s4 = longest(word, STEP4);
  if (s4 && inR2(s4)) {
    if (s4 !== "ion") word = word.slice(0, -s4.length);
    else if (word[word.length - 4] === "s" || word[word.length - 4] === "t") word = word.slice(0, -3);
  }

  // Step 5: a final e or l.
  if (word.endsWith("e")) {
    if (inR2("e") || (inR1("e") && !shortSyllableAt(word, word.length - 1))) word = word.slice(0, -1);
  } else if (word.endsWith("l") && inR2("l") && word[word.length - 2] === "l") word = word.slice(0, -1);

  return word.replaceAll("Y", "y");
}
