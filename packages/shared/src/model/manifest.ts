import { createHash } from "node:crypto";
import { z } from "zod";

/** One tensor of the model contract; string dims are symbolic (N pixels, B frames). */
export const TensorContract = z.strictObject({
  name: z.string().min(1),
  dtype: z.literal("float32"),
  shape: z.array(z.union([z.number().int().positive(), z.string().min(1)])).min(1),
  description: z.string().optional(),
});
export type TensorContract = z.output<typeof TensorContract>;

const FrameSize = z.strictObject({
  width: z.number().int().min(2),
  height: z.number().int().min(2),
  fps: z.number().int().min(1),
});

/**
 * What a node needs to know about a model besides its ONNX bytes: the
 * contract of its inputs and outputs, the prompt encoding it expects, the
 * reference size that benchmarks and prices use, and the limits it accepts.
 * Its `id` is `0x` + sha256 of the ONNX bytes; the DAO allows models by id.
 *
 * The renderer feeds `coords` [N, 2], `t` [B] and `latent` [1, latent.dim]
 * and reads `rgb` [B, N, 3] in [0, 1]; any ONNX model with that contract can
 * serve the network.
 */
export const ModelManifest = z.strictObject({
  /** 0x + sha256 of the ONNX file, lower-case hex. */
  id: z.string().regex(/^0x[0-9a-f]{64}$/, "must be 0x followed by 64 lower-case hex digits"),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  format: z.literal("onnx"),
  opset: z.number().int().min(13),
  inputs: z.array(TensorContract).min(1),
  outputs: z.array(TensorContract).min(1),
  latent: z.strictObject({ dim: z.number().int().min(1), encoding: z.string().min(1) }),
  /** Coordinate convention of the `coords` input. */
  coordinates: z.literal("centred-longest-side/1"),
  /** The size at which the model is benchmarked and priced. */
  reference: FrameSize,
  limits: z.strictObject({
    minWidth: z.number().int().min(2),
    minHeight: z.number().int().min(2),
    maxWidth: z.number().int().min(2),
    maxHeight: z.number().int().min(2),
    maxFps: z.number().int().min(1),
  }),
});
export type ModelManifest = z.output<typeof ModelManifest>;

/** A model as the renderer uses it: the ONNX bytes and their manifest. */
export interface Model {
  bytes: Uint8Array;
  manifest: ModelManifest;
}

/** The model id of ONNX bytes: `0x` + sha256, lower-case hex. */
export function modelId(bytes: Uint8Array): `0x${string}` {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}
