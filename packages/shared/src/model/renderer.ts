import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import type * as ort from "onnxruntime-node";
import { createLogger, type Logger } from "../logger.js";
import { pixelCoords } from "./coords.js";
import { CudaUnavailableError, ModelContractError, ModelLoadError, RenderError, RenderRequestError } from "./errors.js";
import { PROMPT_ENCODING } from "./latent-layout.js";
import { promptLatent } from "./latent.js";
import type { Model, ModelManifest } from "./manifest.js";
import { loadOnnxRuntime, SESSION_THREADING, toRgb24, type OnnxRuntime } from "./ort.js";
import { SessionThread, type RunnableSession } from "./session-thread.js";

/** Where to run the model: `auto` tries CUDA and falls back to the CPU. */
export type Device = "cpu" | "cuda" | "auto";

/** The fields of a job spec that decide its frames (a `JobSpec` fits). */
export interface RenderSpec {
  prompt: string;
  seed: number;
  fps: number;
  width: number;
  height: number;
}

/** Emitted after each frame is ready, in frame order. */
export interface RenderFrameEvent {
  type: "render:frame";
  /** Absolute frame index in the job. */
  frame: number;
  /** Frames of this call finished so far (1-based count). */
  done: number;
  /** Frames this call renders. */
  total: number;
}
export type RenderProgressEvent = RenderFrameEvent;

export interface RenderFramesOptions {
  spec: RenderSpec;
  /** Absolute index of the first frame; frame k is at time k / fps. */
  firstFrame: number;
  frameCount: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: RenderProgressEvent) => void) | undefined;
}

export interface Renderer {
  readonly manifest: ModelManifest;
  /** The device sessions actually run on (after an `auto` fallback). */
  readonly device: "cpu" | "cuda";
  /**
   * Renders `frameCount` frames from `firstFrame`, in order, each as RGB24
   * (width · height · 3 bytes, row-major). Frames are batched on the device;
   * frame k depends only on the spec and k, so any range joins seamlessly
   * with its neighbours.
   */
  renderFrames(options: RenderFramesOptions): AsyncGenerator<Uint8Array, void, undefined>;
  close(): Promise<void>;
}

export interface CreateRendererOptions {
  model: Model;
  /** Default `auto`. */
  device?: Device | undefined;
  /** CUDA device index (default 0). */
  deviceId?: number | undefined;
  logger?: Pick<Logger, "info" | "warn" | "debug"> | undefined;
  /** Frames per run; default: as many as fit in `maxPixelsPerRun`, at most 16. */
  batchSize?: number | undefined;
  /** Pixel·frames per run, which bounds memory (default 2^18); bigger frames are split into tiles. */
  maxPixelsPerRun?: number | undefined;
  /** CPU threads for one run (default: all cores). */
  threads?: number | undefined;
  /**
   * Run the session on a worker thread of its own (`SessionThread`), so the
   * caller's thread converts and encodes a batch while the next one runs
   * and its network is never held by a run. Providers do; default off.
   */
  thread?: boolean | undefined;
}

export const DEFAULT_MAX_PIXELS_PER_RUN = 1 << 18;
const MAX_DEFAULT_BATCH = 16;
const REQUIRED_INPUTS = ["coords", "t", "latent"] as const;

/**
 * Loads a model into ONNX Runtime on the requested device.
 *
 * @example
 * const renderer = await createRenderer({ model: defaultModel(), device: "auto" });
 * for await (const frame of renderer.renderFrames({ spec, firstFrame: 0, frameCount: 24 })) encode(frame);
 * await renderer.close();
 */
export async function createRenderer(options: CreateRendererOptions): Promise<Renderer> {
  const { model } = options;
  const logger = options.logger ?? createLogger({ name: "model:renderer" });
  const requested = options.device ?? "auto";
  const threads = options.threads ?? availableParallelism();
  for (const [key, value] of Object.entries({
    batchSize: options.batchSize,
    maxPixelsPerRun: options.maxPixelsPerRun,
    threads: options.threads,
  })) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
  }
  if (model.manifest.latent.encoding !== PROMPT_ENCODING) {
    throw new ModelContractError(
      `Model ${model.manifest.name} expects prompt encoding "${model.manifest.latent.encoding}", which this node does not implement.`,
      {
        details: [`supported: ${PROMPT_ENCODING}`],
      },
    );
  }

  const runtime = await loadOnnxRuntime();
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    ...SESSION_THREADING,
  };
  const create = (providers: ort.InferenceSession.ExecutionProviderConfig[]): Promise<RunnableSession> =>
    options.thread
      ? SessionThread.open(model.bytes, { ...sessionOptions, executionProviders: providers })
      : runtime.InferenceSession.create(model.bytes, { ...sessionOptions, executionProviders: providers });
  const cuda: ort.InferenceSession.ExecutionProviderConfig = { name: "cuda", deviceId: options.deviceId ?? 0 };

  let session: RunnableSession;
  let device: "cpu" | "cuda";
  if (requested === "cpu") {
    session = await loadOn(() => create(["cpu"]), model);
    device = "cpu";
  } else {
    try {
      const library = cudaProviderLibrary();
      if (library && !existsSync(library)) throw new Error(`${library} is not installed`);
      session = await create([cuda]);
      device = "cuda";
    } catch (cause) {
      if (requested === "cuda") throw new CudaUnavailableError({ cause, details: [`onnxruntime: ${firstLine(cause)}`] });
      logger.warn(
        { reason: firstLine(cause) },
        "CUDA execution provider unavailable; rendering on CPU (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 to use a GPU)",
      );
      session = await loadOn(() => create(["cpu"]), model);
      device = "cpu";
    }
  }

  try {
    checkContract(session, model.manifest);
  } catch (err) {
    await session.release();
    throw err;
  }
  logger.info({ model: model.manifest.id, name: model.manifest.name, device, threads }, "renderer ready");
  return new OnnxRenderer(
    runtime,
    session,
    model.manifest,
    device,
    options.batchSize,
    options.maxPixelsPerRun ?? DEFAULT_MAX_PIXELS_PER_RUN,
  );
}

async function loadOn(create: () => Promise<RunnableSession>, model: Model): Promise<RunnableSession> {
  try {
    return await create();
  } catch (cause) {
    throw new ModelLoadError(`ONNX Runtime cannot load model ${model.manifest.name} (${model.manifest.id}).`, {
      cause,
      details: [firstLine(cause)],
    });
  }
}

function checkContract(session: RunnableSession, manifest: ModelManifest): void {
  const missing = REQUIRED_INPUTS.filter((name) => !session.inputNames.includes(name));
  if (missing.length > 0 || !session.outputNames.includes("rgb")) {
    throw new ModelContractError(`Model ${manifest.name} does not have the Rendermesh inputs and outputs.`, {
      details: [`inputs: ${session.inputNames.join(", ")}`, `outputs: ${session.outputNames.join(", ")}`],
    });
  }
}

/**
 * Where onnxruntime-node keeps its CUDA provider library, which only its
 * CUDA install adds. Checking it first spares CPU-only machines ONNX
 * Runtime's own error print when `auto` probes for CUDA. Undefined when the
 * package layout is not the known one (then session creation decides).
 */
function cudaProviderLibrary(): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const entry = createRequire(import.meta.url).resolve("onnxruntime-node");
    return join(dirname(entry), "..", "bin", "napi-v6", process.platform, process.arch, "libonnxruntime_providers_cuda.so");
  } catch {
    return undefined;
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // eslint-disable-next-line no-control-regex
  return (message.replace(/\u001b\[[0-9;]*m/g, "").split("\n")[0] ?? "").slice(0, 300);
}

interface Run {
  /** First absolute frame of the run. */
  frame: number;
  frames: number;
  /** Pixel range of a tile (whole frame unless frames are split). */
  pixelStart: number;
  pixelEnd: number;
}

class OnnxRenderer implements Renderer {
  readonly manifest: ModelManifest;
  readonly device: "cpu" | "cuda";
  readonly #ort: OnnxRuntime;
  readonly #session: RunnableSession;
  readonly #batchSize: number | undefined;
  readonly #maxPixelsPerRun: number;
  #coords: { width: number; height: number; data: Float32Array } | undefined;
  #closed = false;

  constructor(
    runtime: OnnxRuntime,
    session: RunnableSession,
    manifest: ModelManifest,
    device: "cpu" | "cuda",
    batchSize: number | undefined,
    maxPixelsPerRun: number,
  ) {
    this.#ort = runtime;
    this.#session = session;
    this.manifest = manifest;
    this.device = device;
    this.#batchSize = batchSize;
    this.#maxPixelsPerRun = maxPixelsPerRun;
  }

  async *renderFrames(options: RenderFramesOptions): AsyncGenerator<Uint8Array, void, undefined> {
    const { spec, firstFrame, frameCount, signal, onProgress } = options;
    this.#validate(spec, firstFrame, frameCount);
    signal?.throwIfAborted();
    const pixels = spec.width * spec.height;
    const coords = this.#coordsFor(spec.width, spec.height);
    const latent = new this.#ort.Tensor("float32", promptLatent(spec.prompt, spec.seed, this.manifest.latent.dim), [
      1,
      this.manifest.latent.dim,
    ]);
    const runs = planRuns(firstFrame, frameCount, pixels, this.#batchSize, this.#maxPixelsPerRun);

    const execute = async (run: Run): Promise<Float32Array> => {
      const n = run.pixelEnd - run.pixelStart;
      const times = Float32Array.from({ length: run.frames }, (_, i) => (run.frame + i) / spec.fps);
      const feeds = {
        coords: new this.#ort.Tensor("float32", n === pixels ? coords : coords.slice(2 * run.pixelStart, 2 * run.pixelEnd), [n, 2]),
        t: new this.#ort.Tensor("float32", times, [run.frames]),
        latent,
      };
      let output: { type: string; data: ort.Tensor.DataType; dims: readonly number[] } | undefined;
      try {
        output = (await this.#session.run(feeds, ["rgb"])).rgb;
      } catch (cause) {
        throw new RenderError(`Rendering frames ${run.frame}..${run.frame + run.frames - 1} failed.`, {
          cause,
          details: [firstLine(cause)],
        });
      }
      if (output === undefined || output.type !== "float32" || output.data.length !== run.frames * n * 3) {
        throw new ModelContractError(
          `Model ${this.manifest.name} returned rgb of shape [${output?.dims.join(", ") ?? ""}], expected [${run.frames}, ${n}, 3].`,
        );
      }
      return output.data as Float32Array;
    };
    const start = (run: Run | undefined) => {
      if (run === undefined) return undefined;
      const promise = execute(run);
      promise.catch(() => {}); // awaited below; keeps an early failure from being "unhandled"
      return promise;
    };

    let done = 0;
    let frame: Uint8Array | undefined;
    let pending = start(runs[0]);
    try {
      for (let r = 0; r < runs.length; r++) {
        const run = runs[r] as Run;
        const data = await (pending as Promise<Float32Array>);
        pending = undefined;
        signal?.throwIfAborted();
        // Keep the device busy while this batch is converted and consumed.
        pending = start(runs[r + 1]);
        const n = run.pixelEnd - run.pixelStart;
        for (let f = 0; f < run.frames; f++) {
          if (run.pixelStart === 0) frame = new Uint8Array(pixels * 3);
          toRgb24(data, f * n * 3, n * 3, frame as Uint8Array, run.pixelStart * 3);
          if (run.pixelEnd === pixels) {
            done++;
            onProgress?.({ type: "render:frame", frame: run.frame + f, done, total: frameCount });
            yield frame as Uint8Array;
            signal?.throwIfAborted();
          }
        }
      }
    } finally {
      if (pending) await pending.catch(() => {});
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }

  #validate(spec: RenderSpec, firstFrame: number, frameCount: number): void {
    if (this.#closed) throw new RenderError("The renderer is closed.");
    const { limits, name } = this.manifest;
    const problems: string[] = [];
    if (!Number.isInteger(spec.width) || spec.width < limits.minWidth || spec.width > limits.maxWidth)
      problems.push(`width ${spec.width} is outside ${limits.minWidth}..${limits.maxWidth}`);
    if (!Number.isInteger(spec.height) || spec.height < limits.minHeight || spec.height > limits.maxHeight)
      problems.push(`height ${spec.height} is outside ${limits.minHeight}..${limits.maxHeight}`);
    if (!Number.isInteger(spec.fps) || spec.fps < 1 || spec.fps > limits.maxFps)
      problems.push(`fps ${spec.fps} is outside 1..${limits.maxFps}`);
    if (!Number.isSafeInteger(spec.seed) || spec.seed < 0) problems.push(`seed ${spec.seed} is not a non-negative integer`);
    if (!Number.isSafeInteger(firstFrame) || firstFrame < 0) problems.push(`firstFrame ${firstFrame} is not a non-negative integer`);
    if (!Number.isSafeInteger(frameCount) || frameCount < 0) problems.push(`frameCount ${frameCount} is not a non-negative integer`);
    if (problems.length > 0) throw new RenderRequestError(`The render request does not fit model ${name}.`, { details: problems });
  }

  #coordsFor(width: number, height: number): Float32Array {
    if (this.#coords?.width !== width || this.#coords.height !== height) this.#coords = { width, height, data: pixelCoords(width, height) };
    return this.#coords.data;
  }
}

/** Splits frames into runs: whole frames batched, or one frame in pixel tiles when a frame is bigger than a run. */
function planRuns(firstFrame: number, frameCount: number, pixels: number, batchSize: number | undefined, maxPixelsPerRun: number): Run[] {
  const runs: Run[] = [];
  if (batchSize === undefined && pixels > maxPixelsPerRun) {
    const tiles = Math.ceil(pixels / maxPixelsPerRun);
    const tile = Math.ceil(pixels / tiles);
    for (let f = 0; f < frameCount; f++)
      for (let p = 0; p < pixels; p += tile)
        runs.push({ frame: firstFrame + f, frames: 1, pixelStart: p, pixelEnd: Math.min(pixels, p + tile) });
    return runs;
  }
  const batch = batchSize ?? Math.max(1, Math.min(MAX_DEFAULT_BATCH, Math.floor(maxPixelsPerRun / pixels)));
  for (let f = 0; f < frameCount; f += batch)
    runs.push({ frame: firstFrame + f, frames: Math.min(batch, frameCount - f), pixelStart: 0, pixelEnd: pixels });
  return runs;
}
