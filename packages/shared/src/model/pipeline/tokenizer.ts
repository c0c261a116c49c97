import { ModelContractError } from "../errors.js";
import type { Tokenizer } from "./manifest.js";

/** A prompt → token ids function of fixed length, with the id that pads (for an attention mask). */
export interface TextTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  /** Ids of `text`, truncated and padded to `maxLength`. */
  encode(text: string): BigInt64Array;
  /** Words of `text` the vocabulary does not know (a prompt the model cannot follow). */
  unknownWords(text: string): string[];
}

/**
 * A word-vocabulary tokenizer: lower-case, words are runs of a–z, each
 * looked up in the vocabulary (unknown → `unkId`), truncated to `maxWords`
 * and padded to `maxLength`. The same rule as `models/diffusion-default/data.py`.
 */
export function tokenizeWords(tokenizer: Extract<Tokenizer, { kind: "word-vocab" }>, text: string): BigInt64Array {
  return wordVocabTokenizer(tokenizer).encode(text);
}

/** Words of `text` the tokenizer does not know (a prompt the model cannot follow). */
export function unknownWords(tokenizer: Extract<Tokenizer, { kind: "word-vocab" }>, text: string): string[] {
  return wordVocabTokenizer(tokenizer).unknownWords(text);
}

function wordVocabTokenizer(spec: Extract<Tokenizer, { kind: "word-vocab" }>): TextTokenizer {
  if (spec.maxWords !== undefined && spec.maxWords > spec.maxLength)
    throw new ModelContractError(`The tokenizer's maxWords ${spec.maxWords} is more than its maxLength ${spec.maxLength}.`, {
      hint: "maxWords counts the words the text encoder reads, within its maxLength positions.",
    });
  const index = new Map(spec.vocab.map((word, i) => [word, i]));
  const split = (text: string) => text.toLowerCase().match(/[a-z]+/g) ?? [];
  return fixedLength(
    spec.maxLength,
    spec.padId,
    (text) => split(text).slice(0, spec.maxWords ?? spec.maxLength),
    (w) => index.get(w) ?? spec.unkId,
    (w) => !index.has(w),
  );
}

function fixedLength(
  maxLength: number,
  padId: number,
  split: (text: string) => string[],
  id: (word: string) => number,
  unknown: (word: string) => boolean,
): TextTokenizer {
  return {
    maxLength,
    padId,
    encode(text) {
      const words = split(text);
      const ids = new BigInt64Array(maxLength).fill(BigInt(padId));
      for (let i = 0; i < Math.min(words.length, maxLength); i++) ids[i] = BigInt(id(words[i] as string));
      return ids;
    },
    unknownWords: (text) => split(text).filter(unknown),
  };
}

// Unicode's \w (UTS #18), which the tokenizers library's regexes use; JavaScript's \w is ASCII only.
const WORD = String.raw`\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}`;
const WHITESPACE = new RegExp(String.raw`[${WORD}]+|[^${WORD}\s]+`, "gu");

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A tokenizer from the bytes of a Hugging Face `tokenizer.json` (the
 * `tokenizers` library's format): model `WordLevel` (`vocab`, `unk_token`),
 * normalizer `Lowercase`, `Strip`, `NFC`/`NFD`/`NFKC`/`NFKD` or a `Sequence`
 * of them, pre-tokenizer `Whitespace` (\w+|[^\w\s]+) or `WhitespaceSplit`,
 * no post-processor, `padding.pad_id`. Anything else is refused by name, so
 * a pipeline never runs with a tokenizer that silently differs from its own.
 */
export function parseTokenizerJson(bytes: Uint8Array, maxLength: number): TextTokenizer {
  const refuse = (what: string) =>
    new ModelContractError(`The tokenizer.json ${what}.`, {
      hint: "This runner implements WordLevel with Lowercase/Strip/NFKC normalizers and Whitespace pre-tokenizers; extend tokenizer.ts for BPE or Unigram.",
    });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw refuse("is not UTF-8 JSON");
  }
  if (!isObject(json) || !isObject(json.model)) throw refuse("has no model");
  const model = json.model;
  if (model.type !== "WordLevel") throw refuse(`model is ${String(model.type)}, not WordLevel`);
  if (!isObject(model.vocab)) throw refuse("WordLevel model has no vocab");
  const vocab = new Map<string, number>();
  for (const [word, id] of Object.entries(model.vocab)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw refuse(`vocab id of ${JSON.stringify(word)} is not a non-negative integer`);
    vocab.set(word, id as number);
  }
  const unk = typeof model.unk_token === "string" ? vocab.get(model.unk_token) : undefined;
  if (unk === undefined) throw refuse("unk_token is not in the vocab");
  if (!isObject(json.padding) || !Number.isSafeInteger(json.padding.pad_id)) throw refuse("has no padding.pad_id");
  const padId = json.padding.pad_id as number;
  if (json.post_processor !== null && json.post_processor !== undefined) throw refuse("has a post_processor, which is not implemented");

  const normalizers: ((s: string) => string)[] = [];
  const addNormalizer = (n: unknown): void => {
    if (n === null || n === undefined) return;
    if (!isObject(n)) throw refuse("normalizer is malformed");
    switch (n.type) {
      case "Sequence":
        if (!Array.isArray(n.normalizers)) throw refuse("normalizer Sequence has no list");
        for (const x of n.normalizers) addNormalizer(x);
        return;
      case "Lowercase":
        normalizers.push((s) => s.toLowerCase());
        return;
      case "Strip":
        normalizers.push((s) => (n.left === false ? s : s.trimStart()));
        normalizers.push((s) => (n.right === false ? s : s.trimEnd()));
        return;
      case "NFC":
      case "NFD":
      case "NFKC":
      case "NFKD": {
        const form = n.type;
        normalizers.push((s) => s.normalize(form));
        return;
      }
      default:
        throw refuse(`normalizer ${String(n.type)} is not implemented`);
    }
  };
  addNormalizer(json.normalizer);
  const pre = json.pre_tokenizer;
  let split: (s: string) => string[];
  if (isObject(pre) && pre.type === "Whitespace") split = (s) => s.match(WHITESPACE) ?? [];
  else if (isObject(pre) && pre.type === "WhitespaceSplit") split = (s) => s.split(/\s+/u).filter((w) => w.length > 0);
  else throw refuse(`pre_tokenizer ${isObject(pre) ? String(pre.type) : "(none)"} is not implemented`);
  const words = (text: string) => split(normalizers.reduce((s, n) => n(s), text));
  return fixedLength(
    maxLength,
    padId,
    words,
    (w) => vocab.get(w) ?? unk,
    (w) => !vocab.has(w),
  );
}

/** The tokenizer a manifest describes; `file` is the tokenizer component's bytes when it has one. */
export function createTokenizer(spec: Tokenizer, file?: Uint8Array): TextTokenizer {
  switch (spec.kind) {
    case "word-vocab":
      return wordVocabTokenizer(spec);
    case "tokenizer-json":
      if (file === undefined) throw new ModelContractError(`The pipeline names tokenizer ${spec.file} but has no bytes for it.`);
      return parseTokenizerJson(file, spec.maxLength);
    case "onnx":
      throw new ModelContractError("This pipeline uses an ONNX tokenizer, which this runner does not run yet.", {
        hint: "Describe the tokenizer as a word-vocab or a tokenizer.json (WordLevel), or extend the runner.",
      });
  }
}
