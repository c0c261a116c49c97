import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { z } from "zod";
import { ModelManifest } from "../manifest.js";

/**
 * The manifest of a diffusion video pipeline: everything a node needs to run
 * one generically and a verifier needs to check it, besides the ONNX bytes.
 * Its id is `0x` + sha256 of its RFC 8785 canonical JSON (without `id`);
 * every ONNX file is named by its own sha256, so the id pins the weights too.
 */

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits (sha256 of the file)");
const Dim = z.union([z.number().int().positive(), z.string().min(1)]);

/** One tensor of a component's contract; string dims are symbolic (B batch, F latent frames). */
export const PipelineTensor = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(["float32", "float16", "int64", "int32"]),
  shape: z.array(Dim).min(1),
  description: z.string().optional(),
});
export type PipelineTensor = z.output<typeof PipelineTensor>;

const OnnxFile = {
  /** File name relative to the manifest's directory. */
  file: z
    .string()
    .min(1)
    .regex(/^[^/\\]+$/, "must be a file name beside the manifest"),
  sha256: Sha256,
  inputs: z.array(PipelineTensor).min(1),
  outputs: z.array(PipelineTensor).min(1),
};

/** A word-level tokenizer with a fixed vocabulary (ONNX has no portable string ops). */
export const WordTokenizer = z.strictObject({
  kind: z.literal("word-vocab"),
  /** Words are runs of a-z after lower-casing; others are dropped. */
  vocab: z.array(z.string().min(1)).min(3),
  padId: z.number().int().min(0),
  unkId: z.number().int().min(0),
  maxLength: z.number().int().min(1),
  /**
   * Words the text encoder was trained to read (≤ maxLength); later words are
   * dropped and their positions padded. A position it never saw a word in has
   * an untrained embedding that can drive the denoiser to infinity. Default:
   * maxLength.
   */
  maxWords: z.number().int().min(1).optional(),
});
/**
 * A Hugging Face tokenizers `tokenizer.json` beside the manifest, pinned by
 * its sha256 (so by the pipeline id): the file real pipelines ship. The
 * runner implements the `WordLevel` model with `Lowercase`/`Strip`/Unicode
 * normalizers and the `Whitespace`/`WhitespaceSplit` pre-tokenizers, and
 * refuses other parts (BPE, Unigram, post-processors) by name (`tokenizer.ts`).
 */
export const TokenizerJson = z.strictObject({
  kind: z.literal("tokenizer-json"),
  file: OnnxFile.file,
  sha256: Sha256,
  /** Ids per prompt: truncated, then padded with the file's `padding.pad_id`. */
  maxLength: z.number().int().min(1),
});
/** Token ids already computed by an external tokenizer ship as a table: not supported; an ONNX tokenizer graph (int64 in, int64 out) is. */
export const OnnxTokenizer = z.strictObject({ kind: z.literal("onnx"), ...OnnxFile, maxLength: z.number().int().min(1) });
export const Tokenizer = z.discriminatedUnion("kind", [WordTokenizer, TokenizerJson, OnnxTokenizer]);
export type Tokenizer = z.output<typeof Tokenizer>;

export const TextEncoderComponent = z.strictObject({
  ...OnnxFile,
  bind: z.strictObject({ tokens: z.string().min(1), attentionMask: z.string().min(1).optional(), output: z.string().min(1) }),
});
export const DenoiserComponent = z.strictObject({
  ...OnnxFile,
  bind: z.strictObject({
    latent: z.string().min(1),
    timestep: z.string().min(1),
    text: z.string().min(1),
    /** Image-to-video conditioning latent, when the pipeline has an image encoder. */
    image: z.string().min(1).optional(),
    output: z.string().min(1),
  }),
});
export const DecoderComponent = z.strictObject({
  ...OnnxFile,
  bind: z.strictObject({ latent: z.string().min(1), output: z.string().min(1) }),
  /** Value range of the decoded frames [B, 3, F, H, W]. */
  outputRange: z.enum(["0,1", "-1,1"]),
});
export const ImageEncoderComponent = z.strictObject({
  ...OnnxFile,
  bind: z.strictObject({ image: z.string().min(1), output: z.string().min(1) }),
});

export const FlowMatchEulerConfig = z.strictObject({
  type: z.literal("flow-match-euler"),
  /** The model sees `timestep = sigma · numTrainTimesteps` (diffusers' convention). */
  numTrainTimesteps: z.number().int().min(1),
  /** sigma' = shift·sigma / (1 + (shift − 1)·sigma), as SD3/Wan. */
  shift: z.number().positive(),
  predictionType: z.literal("flow"),
  solverOrder: z.literal(1),
  stochastic: z.literal(false),
});
/**
 * Multistep DPM-Solver++ on flow-matching sigmas: diffusers'
 * `DPMSolverMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
 * algorithm_type="dpmsolver++", solver_type="midpoint", final_sigmas_type="zero")`,
 * the family of sampler Wan 2.x ships. Order 2 reuses the previous step's
 * model output, so one step depends on two committed steps.
 */
export const DpmSolverMultistepConfig = z.strictObject({
  type: z.literal("dpm-solver-multistep"),
  numTrainTimesteps: z.number().int().min(1),
  /** flow_shift: sigma' = shift·sigma / (1 + (shift − 1)·sigma). */
  shift: z.number().positive(),
  predictionType: z.literal("flow"),
  algorithm: z.literal("dpmsolver++"),
  solverOrder: z.union([z.literal(1), z.literal(2)]),
  solverType: z.literal("midpoint"),
  /** The schedule ends at sigma 0, so the last step is first order (as diffusers). */
  finalSigmas: z.literal("zero"),
  stochastic: z.literal(false),
});
export const SchedulerConfig = z.discriminatedUnion("type", [FlowMatchEulerConfig, DpmSolverMultistepConfig]);
export type SchedulerConfig = z.output<typeof SchedulerConfig>;

export const PipelineVerification = z.strictObject({
  /** Denoising steps re-executed per check (more for a provider with little history). */
  stepsPerCheck: z.number().int().min(1),
  tolerances: z.strictObject({
    /** Largest relative L2 error ‖a − b‖/‖b‖ of one step's denoiser output. */
    denoiserRelL2: z.number().positive(),
    /** Largest relative L2 error of the text embedding. */
    textRelL2: z.number().positive(),
    /** Least luma PSNR (dB) of a decoded tile against the delivered frames. */
    tilePsnrDb: z.number().positive(),
    /**
     * Least luma PSNR (dB) of the same comparison on means of blocks of one
     * latent pixel (spatialCompression²): H.264's honest error is mostly
     * detail inside a block, a cheaper decoder's shifts whole blocks.
     */
    tileBlockPsnrDb: z.number().positive().optional(),
  }),
  /** Where the tolerances came from: the runs compared and what they measured. */
  calibration: z.strictObject({
    source: z.string().min(1),
    date: z.string().min(1),
    runs: z.array(
      z.strictObject({
        reference: z.string().min(1),
        candidate: z.string().min(1),
        steps: z.number().int().min(1),
        maxDenoiserRelL2: z.number().min(0),
        maxTextRelL2: z.number().min(0),
        minTilePsnrDb: z.number().optional(),
        minTileBlockPsnrDb: z.number().optional(),
      }),
    ),
  }),
});

export const PipelineManifest = z.strictObject({
  family: z.literal("diffusion-pipeline"),
  /** 0x + sha256 of the canonical manifest without this field; filled by `withPipelineId`. */
  id: z
    .string()
    .regex(/^0x[0-9a-f]{64}$/)
    .optional(),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  format: z.literal("onnx"),
  opset: z.number().int().min(13),
  components: z.strictObject({
    tokenizer: Tokenizer,
    textEncoder: TextEncoderComponent,
    denoiser: DenoiserComponent,
    decoder: DecoderComponent,
    imageEncoder: ImageEncoderComponent.optional(),
  }),
  latent: z.strictObject({
    channels: z.number().int().min(1),
    layout: z.literal("BCFHW"),
    spatialCompression: z.number().int().min(1),
    temporalCompression: z.number().int().min(1),
  }),
  video: z.strictObject({
    width: z.number().int().min(2),
    height: z.number().int().min(2),
    fps: z.number().int().min(1),
    /** Frames of one clip (one segment). */
    framesPerClip: z.number().int().min(1),
    /** Which frame counts the model can make: frames = multiple·n + offset (e.g. 4n+1). */
    frameRule: z.strictObject({ multiple: z.number().int().min(1), offset: z.number().int().min(0) }),
  }),
  scheduler: SchedulerConfig,
  noise: z.strictObject({
    /** xoshiro128** seeded by splitmix32, Irwin–Hall(12) normals, rounded to float32 (`prng.ts`). */
    generator: z.literal("xoshiro128ss-irwin-hall-12"),
    /** How a segment's seed derives from the job's: words (seedLo, seedHi, segment, salt). */
    derivation: z.literal("job-seed-segment/1"),
  }),
  sampling: z.strictObject({
    steps: z.strictObject({ default: z.number().int().min(1), min: z.number().int().min(1), max: z.number().int().min(1) }),
    guidance: z.strictObject({
      /** Classifier-free guidance: the denoiser runs on the prompt and on `negativePrompt`. */
      classifierFree: z.boolean(),
      default: z.number().min(0),
      min: z.number().min(0),
      max: z.number().min(0),
      negativePrompt: z.string(),
    }),
  }),
  decode: z.strictObject({
    /** Latent frames decoded per decoder run; a verifier decodes one such tile. */
    latentFramesPerTile: z.number().int().min(1),
  }),
  /** Precision the provider commits to (trace tensors are float32 bytes either way). */
  precision: z.enum(["float32", "float16"]),
  verification: PipelineVerification,
});
export type PipelineManifest = z.output<typeof PipelineManifest>;
export type PipelineManifestInput = z.input<typeof PipelineManifest>;

/** The field-model manifest with its family tag (absent in older files). */
export const FieldManifest = ModelManifest.extend({ family: z.literal("neural-field") });
export type FieldManifest = z.output<typeof FieldManifest>;

/** Either model family, discriminated by `family`. */
export const AnyModelManifest = z.discriminatedUnion("family", [FieldManifest, PipelineManifest]);
export type AnyModelManifest = z.output<typeof AnyModelManifest>;

/** Parses a manifest of either family; a manifest without `family` is a field model (the format before pipelines). */
export function parseAnyManifest(json: unknown): AnyModelManifest {
  const tagged = json !== null && typeof json === "object" && !("family" in json) ? { ...json, family: "neural-field" } : json;
  return AnyModelManifest.parse(tagged);
}

/** RFC 8785 canonical JSON of a validated manifest, without its `id`. */
export function canonicalPipelineManifest(manifest: PipelineManifestInput): string {
  const { id: _id, ...rest } = PipelineManifest.parse(manifest);
  const text = canonicalize(rest);
  if (text === undefined) throw new Error("pipeline manifest cannot be canonicalised");
  return text;
}

/** The pipeline id the DAO allows: `0x` + sha256 of the canonical manifest. */
export function pipelineId(manifest: PipelineManifestInput): `0x${string}` {
  return `0x${createHash("sha256").update(canonicalPipelineManifest(manifest)).digest("hex")}`;
}

/** The manifest with its `id` set from its content. */
export function withPipelineId(manifest: PipelineManifestInput): PipelineManifest & { id: `0x${string}` } {
  const parsed = PipelineManifest.parse(manifest);
  return { ...parsed, id: pipelineId(parsed) };
}

/** Latent frames of a clip of `frames` frames: (frames − offset)/tc + offset for a k·n+1 rule, frames/tc otherwise. */
export function latentFrames(manifest: PipelineManifest, frames: number): number {
  const { multiple, offset } = manifest.video.frameRule;
  if (frames < offset || (frames - offset) % multiple !== 0)
    throw new RangeError(`${frames} frames do not fit the rule ${multiple}n+${offset}`);
  const tc = manifest.latent.temporalCompression;
  return offset > 0 ? (frames - offset) / tc + offset : frames / tc;
}

/** The latent shape [1, C, F', H/s, W/s] of one clip. */
export function latentShape(
  manifest: PipelineManifest,
  width: number,
  height: number,
  frames: number,
): [number, number, number, number, number] {
  const s = manifest.latent.spatialCompression;
  if (width % s !== 0 || height % s !== 0) throw new RangeError(`${width}x${height} is not a multiple of the spatial compression ${s}`);
  return [1, manifest.latent.channels, latentFrames(manifest, frames), height / s, width / s];
}
