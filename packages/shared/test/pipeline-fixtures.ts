import { Xoshiro128 } from "../src/model/prng.js";
import { OnnxGraphBuilder } from "../src/model/onnx-builder.js";
import { assemblePipeline, sha256Hex, type Pipeline } from "../src/model/pipeline/load.js";
import type { PipelineManifestInput, SchedulerConfig } from "../src/model/pipeline/manifest.js";

/**
 * Two tiny random-weight pipelines built from code, shaped differently, so
 * tests prove the runner reads everything from the manifest:
 *  - "alpha": 4 latent channels, 8x spatial, no temporal compression, pooled
 *    text [B, D], float timestep, classifier-free guidance, output in [0, 1];
 *  - "beta": 2 channels, 4x spatial, 4x temporal with a 4n+1 frame rule,
 *    a text sequence [B, L, D], int64 timestep, no guidance, output in [-1, 1],
 *    its vocabulary a Hugging Face tokenizer.json component.
 */

const META = { opset: 17, producerName: "rendermesh-test", producerVersion: "0", docString: "", metadata: {} };

function weights(seed: number, n: number, scale: number): number[] {
  const rng = new Xoshiro128(seed);
  return Array.from({ length: n }, () => rng.uniform(-scale, scale));
}

interface Shape {
  name: string;
  channels: number;
  spatial: number;
  temporal: number;
  frameRule: { multiple: number; offset: number };
  frames: number;
  size: number;
  textDim: number;
  maxLength: number;
  sequence: boolean;
  intTimestep: boolean;
  cfg: boolean;
  range: "0,1" | "-1,1";
  names: { tokens: string; text: string; latent: string; timestep: string; velocity: string; decLatent: string; frames: string };
  seed: number;
  /** Default: flow-match Euler (shift 1 with guidance, 3 without). */
  scheduler?: SchedulerConfig;
  /** Ship the vocabulary as a Hugging Face tokenizer.json component instead of inline. */
  tokenizerJson?: boolean;
}

const VOCAB = ["<pad>", "<unk>", "a", "red", "blue", "circle", "square", "moving", "left", "right", "on", "background"];

/** A WordLevel tokenizer.json as the `tokenizers` library writes one (lower-case, split on \w+|[^\w\s]+, pad id 0). */
export function tokenizerJson(vocab: readonly string[] = VOCAB, extra: Record<string, unknown> = {}): Uint8Array {
  const json = {
    version: "1.0",
    truncation: null,
    padding: { strategy: "BatchLongest", direction: "Right", pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: "<pad>" },
    added_tokens: [],
    normalizer: { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Lowercase" }] },
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab: Object.fromEntries(vocab.map((w, i) => [w, i])), unk_token: "<unk>" },
    ...extra,
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

function textEncoder(s: Shape): Uint8Array {
  const b = new OnnxGraphBuilder();
  const tokens = b.input(s.names.tokens, ["B", s.maxLength], "", "int64");
  const x = b.op("Cast", [tokens], { to: 1 });
  const embed = b.float("embed", [s.maxLength, s.textDim], weights(s.seed, s.maxLength * s.textDim, 0.2));
  if (s.sequence) {
    // [B, L] → [B, L, 1] · [L, D] row-wise → [B, L, D]
    const col = b.op("Unsqueeze", [x, b.int64("axes", [2])]);
    const h = b.op("Tanh", [b.op("Mul", [col, embed])]);
    b.identity(h, s.names.text);
    b.output(s.names.text, ["B", s.maxLength, s.textDim]);
  } else {
    const h = b.op("Tanh", [b.op("MatMul", [x, embed])]);
    b.identity(h, s.names.text);
    b.output(s.names.text, ["B", s.textDim]);
  }
  return b.encode({ ...META, graphName: `${s.name}-text` });
}

function denoiser(s: Shape): Uint8Array {
  const b = new OnnxGraphBuilder();
  const latent = b.input(s.names.latent, ["B", s.channels, "F", "h", "w"]);
  const timestep = b.input(s.names.timestep, ["B"], "", s.intTimestep ? "int64" : "float32");
  const text = b.input(s.names.text, s.sequence ? ["B", s.maxLength, s.textDim] : ["B", s.textDim]);
  const pooled = s.sequence ? b.op("ReduceMean", [text], { axes: [1], keepdims: 0 }) : text;
  const proj = b.op("MatMul", [pooled, b.float("proj", [s.textDim, s.channels], weights(s.seed + 1, s.textDim * s.channels, 1))]);
  const bias = b.op("Reshape", [proj, b.int64("shape", [-1, s.channels, 1, 1, 1])]);
  const t = s.intTimestep ? b.op("Cast", [timestep], { to: 1 }) : timestep;
  const tt = b.op("Reshape", [b.op("Mul", [t, b.float("tscale", [1], [0.001])]), b.int64("tshape", [-1, 1, 1, 1, 1])]);
  const conv = b.op(
    "Conv",
    [latent, b.float("w", [s.channels, s.channels, 1, 3, 3], weights(s.seed + 2, s.channels * s.channels * 9, 0.3))],
    { pads: [0, 1, 1, 0, 1, 1] },
  );
  const out = b.op("Tanh", [b.op("Add", [b.op("Add", [conv, bias]), tt])]);
  b.identity(out, s.names.velocity);
  b.output(s.names.velocity, ["B", s.channels, "F", "h", "w"]);
  return b.encode({ ...META, graphName: `${s.name}-denoiser` });
}

function decoder(s: Shape): Uint8Array {
  const b = new OnnxGraphBuilder();
  const latent = b.input(s.names.decLatent, [1, s.channels, "F", "h", "w"]);
  const rgb = b.op("Conv", [latent, b.float("w", [3, s.channels, 1, 1, 1], weights(s.seed + 3, 3 * s.channels, 1))]);
  const up = b.op("Resize", [rgb, "", b.float("scales", [5], [1, 1, s.temporal, s.spatial, s.spatial])]);
  let out = b.op(s.range === "0,1" ? "Sigmoid" : "Tanh", [up]);
  if (s.temporal > 1) {
    // 4n+1: the first latent frame makes one frame, each later one `temporal` frames.
    const starts = b.int64("starts", [s.temporal - 1]);
    out = b.op("Slice", [out, starts, b.int64("ends", [1 << 30]), b.int64("axes", [2])]);
  }
  b.identity(out, s.names.frames);
  b.output(s.names.frames, [1, 3, "Fo", "H", "W"]);
  return b.encode({ ...META, graphName: `${s.name}-decoder` });
}

function manifestFor(s: Shape, files: Pipeline["files"]): PipelineManifestInput {
  const t = (name: string, dtype: "float32" | "int64", shape: (number | string)[]) => ({ name, dtype, shape });
  const lf = s.frameRule.offset > 0 ? (s.frames - s.frameRule.offset) / s.temporal + s.frameRule.offset : s.frames / s.temporal;
  return {
    family: "diffusion-pipeline",
    name: `test-${s.name}`,
    version: "0.0.1",
    format: "onnx",
    opset: 17,
    components: {
      tokenizer: files.tokenizer
        ? { kind: "tokenizer-json", file: "tokenizer.json", sha256: sha256Hex(files.tokenizer), maxLength: s.maxLength }
        : { kind: "word-vocab", vocab: VOCAB, padId: 0, unkId: 1, maxLength: s.maxLength },
      textEncoder: {
        file: "text.onnx",
        sha256: sha256Hex(files.textEncoder),
        inputs: [t(s.names.tokens, "int64", ["B", s.maxLength])],
        outputs: [t(s.names.text, "float32", s.sequence ? ["B", s.maxLength, s.textDim] : ["B", s.textDim])],
        bind: { tokens: s.names.tokens, output: s.names.text },
      },
      denoiser: {
        file: "denoiser.onnx",
        sha256: sha256Hex(files.denoiser),
        inputs: [
          t(s.names.latent, "float32", ["B", s.channels, "F", "h", "w"]),
          t(s.names.timestep, s.intTimestep ? "int64" : "float32", ["B"]),
          t(s.names.text, "float32", s.sequence ? ["B", s.maxLength, s.textDim] : ["B", s.textDim]),
        ],
        outputs: [t(s.names.velocity, "float32", ["B", s.channels, "F", "h", "w"])],
        bind: { latent: s.names.latent, timestep: s.names.timestep, text: s.names.text, output: s.names.velocity },
      },
      decoder: {
        file: "decoder.onnx",
        sha256: sha256Hex(files.decoder),
        inputs: [t(s.names.decLatent, "float32", [1, s.channels, "F", "h", "w"])],
        outputs: [t(s.names.frames, "float32", [1, 3, "Fo", "H", "W"])],
        bind: { latent: s.names.decLatent, output: s.names.frames },
        outputRange: s.range,
      },
    },
    latent: { channels: s.channels, layout: "BCFHW", spatialCompression: s.spatial, temporalCompression: s.temporal },
    video: { width: s.size, height: s.size, fps: 8, framesPerClip: s.frames, frameRule: s.frameRule },
    scheduler: s.scheduler ?? {
      type: "flow-match-euler",
      numTrainTimesteps: 1000,
      shift: s.cfg ? 1 : 3,
      predictionType: "flow",
      solverOrder: 1,
      stochastic: false,
    },
    noise: { generator: "xoshiro128ss-irwin-hall-12", derivation: "job-seed-segment/1" },
    sampling: {
      steps: { default: 6, min: 2, max: 20 },
      guidance: { classifierFree: s.cfg, default: s.cfg ? 2.5 : 1, min: 0, max: 10, negativePrompt: "" },
    },
    decode: { latentFramesPerTile: s.temporal > 1 ? lf : 1 },
    precision: "float32",
    verification: {
      stepsPerCheck: 2,
      tolerances: { denoiserRelL2: 1e-4, textRelL2: 1e-5, tilePsnrDb: 30 },
      calibration: { source: "test fixture", date: "2026-12-01", runs: [] },
    },
  };
}

export function build(s: Shape): Pipeline {
  const files: Pipeline["files"] = { textEncoder: textEncoder(s), denoiser: denoiser(s), decoder: decoder(s) };
  if (s.tokenizerJson) files.tokenizer = tokenizerJson();
  return assemblePipeline(manifestFor(s, files), files);
}

export const ALPHA: Shape = {
  name: "alpha",
  channels: 4,
  spatial: 8,
  temporal: 1,
  frameRule: { multiple: 1, offset: 0 },
  frames: 8,
  size: 32,
  textDim: 16,
  maxLength: 12,
  sequence: false,
  intTimestep: false,
  cfg: true,
  range: "0,1",
  names: {
    tokens: "tokens",
    text: "text_embeds",
    latent: "latent",
    timestep: "timestep",
    velocity: "velocity",
    decLatent: "latent",
    frames: "frames",
  },
  seed: 11,
};

export const BETA: Shape = {
  name: "beta",
  channels: 2,
  spatial: 4,
  temporal: 4,
  frameRule: { multiple: 4, offset: 1 },
  frames: 9,
  size: 16,
  textDim: 8,
  maxLength: 6,
  sequence: true,
  intTimestep: true,
  cfg: false,
  range: "-1,1",
  names: {
    tokens: "input_ids",
    text: "encoder_hidden_states",
    latent: "hidden_states",
    timestep: "t",
    velocity: "noise_pred",
    decLatent: "z",
    frames: "sample",
  },
  seed: 23,
  tokenizerJson: true,
};

export const alphaPipeline = (): Pipeline => build(ALPHA);
export const betaPipeline = (): Pipeline => build(BETA);

/** DPM-Solver++ 2M on flow sigmas (diffusers' multistep solver, as Wan ships it). */
export const DPM_SOLVER_2M: Extract<SchedulerConfig, { type: "dpm-solver-multistep" }> = {
  type: "dpm-solver-multistep",
  numTrainTimesteps: 1000,
  shift: 3,
  predictionType: "flow",
  algorithm: "dpmsolver++",
  solverOrder: 2,
  solverType: "midpoint",
  finalSigmas: "zero",
  stochastic: false,
};
