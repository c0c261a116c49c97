import type { Tokenizer } from "./manifest.js";

/**
 * A word-vocabulary tokenizer: lower-case, words are runs of a–z, each
 * looked up in the vocabulary (unknown → `unkId`), truncated and padded to
 * `maxLength`. The same rule as `models/diffusion-default/data.py`.
 */
export function tokenizeWords(tokenizer: Extract<Tokenizer, { kind: "word-vocab" }>, text: string): BigInt64Array {
  const index = new Map(tokenizer.vocab.map((word, i) => [word, i]));
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  const ids = new BigInt64Array(tokenizer.maxLength).fill(BigInt(tokenizer.padId));
  for (let i = 0; i < Math.min(words.length, tokenizer.maxLength); i++) ids[i] = BigInt(index.get(words[i] as string) ?? tokenizer.unkId);
  return ids;
}

/** Words of `text` the tokenizer does not know (a prompt the model cannot follow). */
export function unknownWords(tokenizer: Extract<Tokenizer, { kind: "word-vocab" }>, text: string): string[] {
  const vocab = new Set(tokenizer.vocab);
  return (text.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => !vocab.has(w));
}
