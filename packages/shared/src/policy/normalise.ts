import { keccak256, toUtf8Bytes } from "ethers";

/**
 * The one normalisation shared by the CLI, the coordinator and the provider
 * (and by whoever proposes a blocked term), so a term blocked by the DAO
 * matches however a prompt spells it:
 *
 * 1. Unicode NFKC (full-width and compatibility forms fold to plain ones),
 * 2. case folding (`toLowerCase` after NFKC, then NFKC again, since lower-casing
 *    can produce sequences that NFKC composes),
 * 3. invisible format characters (zero-width space and joiners, soft hyphen)
 *    are deleted, so they cannot split a word,
 * 4. every other punctuation, symbol and control character becomes a space,
 * 5. runs of white space become one space; leading and trailing space go.
 */
export function normaliseText(text: string): string {
  return fold(text)
    .replace(/[\p{P}\p{S}\p{C}]+/gu, " ")
    .replace(/\s+/gu, " ")
    .trim();
}

function fold(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .normalize("NFKC")
    .replace(/\p{Cf}+/gu, "");
}

/**
 * The white-space separated tokens of a prompt with the punctuation inside
 * them removed rather than split on: `for.bidden` → `forbidden`. Matching
 * checks these too, so punctuation inserted into a word does not hide it.
 */
function joinedWords(text: string): string[] {
  return fold(text)
    .split(/\s+/u)
    .map((t) => t.replace(/[\p{P}\p{S}\p{C}]+/gu, ""))
    .filter((t) => t !== "");
}

/** The words of a normalised text. */
export function words(text: string): string[] {
  const n = normaliseText(text);
  return n === "" ? [] : n.split(" ");
}

/** The hash the policy stores for a blocked term or phrase: keccak256 of its normalised UTF-8. */
export function termHash(term: string): `0x${string}` {
  return keccak256(toUtf8Bytes(normaliseText(term))) as `0x${string}`;
}

/**
 * Every word and every adjacent pair of words of a prompt, as the policy
 * matches them: of its normalised form, and of its tokens with inner
 * punctuation removed.
 */
export function candidateTerms(prompt: string): Array<{ text: string; hash: `0x${string}` }> {
  const out: Array<{ text: string; hash: `0x${string}` }> = [];
  const seen = new Set<string>();
  const push = (text: string) => {
    if (seen.has(text)) return;
    seen.add(text);
    out.push({ text, hash: keccak256(toUtf8Bytes(text)) as `0x${string}` });
  };
  for (const w of [words(prompt), joinedWords(prompt)]) {
    for (let i = 0; i < w.length; i++) {
      push(w[i]!);
      if (i + 1 < w.length) push(`${w[i]} ${w[i + 1]}`);
    }
  }
  return out;
}

/**
 * The first word or adjacent pair of the prompt whose hash is blocked, or
 * `null`. `blocked` holds lower-case 0x hashes.
 */
export function findBlockedTerm(prompt: string, blocked: ReadonlySet<string>): string | null {
  if (blocked.size === 0) return null;
  for (const { text, hash } of candidateTerms(prompt)) if (blocked.has(hash)) return text;
  return null;
}
