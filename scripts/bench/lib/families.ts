// The two model families a provider serves, opened the same way for every
// benchmark: the neural field (`defaultModel()`, frames rendered in batches)
// and the trained diffusion pipeline (`models/diffusion-default`, one clip
// per segment with its committed trace). Each comes with its "bare
// inference" loop: the same `session.run` calls its renderer makes for one
// segment, with the same shapes and threads, and nothing else — the
// yardstick the provider pipeline is measured against.
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JobSpec } from "@rendermesh/shared";
import {
  createRenderer,
  defaultModel,
  defaultPipelinePath,
  latentShape,
  loadPipeline,
  pixelCoords,
  promptLatent,
  PipelineFrameSource,
  SESSION_THREADING,
  PipelineRunner,
  PipelineRunnerThread,
  pooledGenerator,
  pooledRenderer,
  type Model,
  type Renderer,
  type Pipeline,
} from "@rendermesh/shared/model";
import type { ModelFamily } from "../types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** The part of onnxruntime-node the bare loop uses. */
interface Ort {
  InferenceSession: {
    create(
      model: Uint8Array,
      options: Record<string, unknown>,
    ): Promise<{ run(feeds: Record<string, unknown>, outputs: string[]): Promise<unknown>; release(): Promise<void> }>;
  };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
}
// onnxruntime-node is a dependency of @rendermesh/shared; load the same copy.
const ort = createRequire(join(root, "packages", "shared", "package.json"))("onnxruntime-node") as Ort;

const silent = { info() {}, warn() {}, debug() {} };

/** What a renderer offers the provider pipeline (`FrameSource` of @rendermesh/provider-node). */
interface BenchRenderer {
  renderFrames(o: { spec: JobSpec; firstFrame: number; frameCount: number; signal?: AbortSignal | undefined }): AsyncIterable<Uint8Array>;
  renderSegment?: PipelineFrameSource["renderSegment"];
}

export interface OpenFamily {
  family: ModelFamily;
  /** The model id a job names. */
  modelId: `0x${string}`;
  width: number;
  height: number;
  fps: number;
  /** Frames of one segment (one second). */
  frames: number;
  renderer: BenchRenderer;
  /** Seconds of bare `session.run` for one segment (one second) of `spec`, at its size and rate. */
  bare(spec: JobSpec): Promise<number>;
  /** A short description for notes: size, batches, threads. */
  describe: string;
  field?: { model: Model; batch: number };
  pipeline?: { pipeline: Pipeline; runner: PipelineRunner };
  close(): Promise<void>;
}

export async function openFamily(family: ModelFamily, threads = availableParallelism()): Promise<OpenFamily> {
  return family === "field" ? openField(threads) : openDiffusion(threads);
}

async function openField(threads: number): Promise<OpenFamily> {
  const model = defaultModel();
  const { width, height, fps } = model.manifest.reference;
  const pixels = width * height;
  // The renderer's own default batch for this size (`maxPixelsPerRun` 2^18, at most 16 frames).
  const batch = Math.max(1, Math.min(16, Math.floor((1 << 18) / pixels)));
  const session = await ort.InferenceSession.create(model.bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    ...SESSION_THREADING, // as every Rendermesh session (threads sleep between runs)
  });
  // On a thread of its own, as a provider runs it; the bare figure's session above runs on this thread.
  const renderer = await createRenderer({ model, device: "cpu", batchSize: batch, threads, logger: silent, thread: true }).catch(
    async (err: unknown) => {
      await session.release();
      throw err;
    },
  );
  // Pixel coordinates per frame size: the reference size, or a job's own (the e2e figure's bare run of a job).
  const coordsBySize = new Map<string, unknown>();
  const coordsFor = (w: number, h: number) => {
    const key = `${w}x${h}`;
    if (!coordsBySize.has(key)) coordsBySize.set(key, new ort.Tensor("float32", pixelCoords(w, h), [w * h, 2]));
    return coordsBySize.get(key);
  };
  const dim = model.manifest.latent.dim;
  return {
    family: "field",
    modelId: model.manifest.id as `0x${string}`,
    width,
    height,
    fps,
    frames: fps,
    renderer,
    describe: `field model ${width}x${height}@${fps}, batch ${batch}, ${threads} threads, CPU`,
    field: { model, batch },
    async bare(spec) {
      // One segment of `spec` (its size and rate), in the renderer's batches for that size.
      const coords = coordsFor(spec.width, spec.height);
      const perRun = Math.max(1, Math.min(16, Math.floor((1 << 18) / (spec.width * spec.height))));
      const latent = new ort.Tensor("float32", promptLatent(spec.prompt, spec.seed, dim), [1, dim]);
      const start = performance.now();
      for (let f = 0; f < spec.fps; f += perRun) {
        const n = Math.min(perRun, spec.fps - f);
        const t = new ort.Tensor("float32", Float32Array.from({ length: n }, (_, i) => (f + i) / spec.fps), [n]);
        await session.run({ coords, t, latent }, ["rgb"]);
      }
      return (performance.now() - start) / 1000;
    },
    async close() {
      await renderer.close();
      await session.release();
    },
  };
}

async function openDiffusion(threads: number): Promise<OpenFamily> {
  const pipeline = await loadPipeline(defaultPipelinePath());
  const m = pipeline.manifest;
  // The bare figure's session.run calls and the verifier on this thread; the provider's renders on their own, as a provider runs them.
  const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads, logger: silent });
  const thread = await PipelineRunnerThread.create({ pipeline, device: "cpu", threads, logger: silent }).catch(async (err: unknown) => {
    await runner.close();
    throw err;
  });
  const renderer = new PipelineFrameSource(thread);
  const { width, height, fps, framesPerClip } = m.video;
  const dims = latentShape(m, width, height, framesPerClip);
  const steps = m.sampling.steps.default;
  const cfg = m.sampling.guidance.classifierFree;
  const latentFrames = dims[2]!;
  const per = m.decode.latentFramesPerTile;
  return {
    family: "diffusion",
    modelId: m.id,
    width,
    height,
    fps,
    frames: framesPerClip,
    renderer,
    describe: `diffusion pipeline ${width}x${height}@${fps}, ${steps} steps${cfg ? ", CFG batch 2" : ""}, ${threads} threads, CPU`,
    pipeline: { pipeline, runner },
    async bare(spec) {
      // The runner's session.run calls for one clip — text encoder (twice under guidance), the denoiser once per
      // step, the decoder once per tile — without the scheduler, the trace or the frame conversion.
      const latent = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.1), dims };
      const start = performance.now();
      const cond = await runner.encodeText(spec.prompt);
      const uncond = cfg ? await runner.encodeText(m.sampling.guidance.negativePrompt) : undefined;
      for (let i = 0; i < steps; i++) await runner.denoise(latent, m.scheduler.numTrainTimesteps * (1 - i / steps), cond, uncond);
      for (let from = 0; from < latentFrames; from += per) await runner.decodeTile(latent, from, Math.min(per, latentFrames - from));
      return (performance.now() - start) / 1000;
    },
    async close() {
      await renderer.close();
      await runner.close();
    },
  };
}

/**
 * One renderer over several opened copies of a family (`--concurrency n` on a
 * provider: each render on a member's own inference thread). The members are
 * closed by their own `close`.
 */
export function pooledFamilyRenderer(members: readonly OpenFamily[]): BenchRenderer {
  if (members[0]!.family === "field") return pooledRenderer(members.map((m) => m.renderer as Renderer));
  return new PipelineFrameSource(pooledGenerator(members.map((m) => (m.renderer as PipelineFrameSource).runner)));
}

/** A job spec for one family at its native size and rate. */
export function familySpec(f: OpenFamily, prompt: string, seed: number, seconds = 1): JobSpec {
  return { v: 1, model: f.modelId, prompt, seed, seconds, fps: f.fps, width: f.width, height: f.height };
}
