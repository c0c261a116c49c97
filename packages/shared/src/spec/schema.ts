import { z } from "zod";

/** 0x-prefixed 32-byte hex, lower case (model ids, spec hashes, job ids). */
export const Bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex digits")
  .transform((s) => s.toLowerCase() as `0x${string}`);

/** A 20-byte address; checksum is not enforced on the wire, compare lower-cased. */
export const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be 0x followed by 40 hex digits") as z.ZodType<`0x${string}`, string>;

/** A UTF-16 surrogate not paired with its other half (a pair reads as one astral code point under `u`). */
const LONE_SURROGATE = /\p{Cs}/u;

const evenSize = (what: string) =>
  [(n: number) => n % 2 === 0, { message: `${what} must be even (H.264 yuv420p needs even sizes)` }] as const;

/**
 * The canonical description of a generation job. Its hash is stored in the
 * escrow at `openJob`, so every field that changes the output is here and
 * nothing else is. Strict on purpose: a field a node does not know would
 * change the hash and the output it cannot produce, so new fields come with
 * a new `v`, and unknown fields are refused (`BAD_MESSAGE`) rather than
 * ignored as they are in protocol messages.
 */
export const JobSpec = z.strictObject({
  /** Spec format version. */
  v: z.literal(1),
  /** Model id: 0x + sha256 of the ONNX bytes. */
  model: Bytes32,
  prompt: z
    .string()
    // A lone UTF-16 surrogate has no UTF-8 form, so it cannot be hashed or sent faithfully.
    .refine((s) => !LONE_SURROGATE.test(s), { message: "prompt must be well-formed Unicode (it holds a lone UTF-16 surrogate)" })
    .trim()
    .min(1, "prompt must not be empty")
    .max(2000, "prompt is at most 2000 characters"),
  seed: z.number().int().min(0).max(0xffff_ffff),
  seconds: z.number().int().min(1, "seconds must be at least 1").max(86_400),
  fps: z.number().int().min(1).max(240),
  width: z
    .number()
    .int()
    .min(16)
    .max(8192)
    .refine(...evenSize("width")),
  height: z
    .number()
    .int()
    .min(16)
    .max(8192)
    .refine(...evenSize("height")),
});
export type JobSpec = z.output<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;
