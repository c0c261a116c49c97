import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { createLogger, type Logger } from "../../logger.js";
import { ModelContractError, RenderError, RenderRequestError } from "../errors.js";
import type { Pipeline } from "./load.js";
import { latentShape, type PipelineManifest, type PipelineTensor } from "./manifest.js";
import { segmentNoise } from "./noise.js";
import { createScheduler, guide } from "./scheduler.js";
import { firstLine, openSession, type PipelineDevice } from "./session.js";
import { createTokenizer, type TextTokenizer } from "./tokenizer.js";

/** A float32 tensor in JavaScript memory. */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** One committed denoising step: the input latent and the denoiser's output on each guidance branch. */
export interface TraceStep {
  t: number;
  latent: Float32Array;
  cond: Float32Array;
  /** Present when classifier-free guidance runs. */
  uncond?: Float32Array | undefined;
}

/** Everything a provider commits to for one segment (see `trace.ts` for its IPFS form). */
export interface PipelineTrace {
  pipeline: `0x${string}`;
  seed: number;
  segment: number;
  guidance: number;
  latentDims: readonly number[];
  text: { dims: readonly number[]; cond: Float32Array; uncond?: Float32Array | undefined };
  steps: TraceStep[];
  /** The latent after the last step (what is decoded). */
  final: Float32Array;
}

export interface GenerateOptions {
  prompt: string;
  /** The job's seed; the segment's noise derives from it and `segment`. */
  seed: number;
  segment: number;
  steps?: number | undefined;
  guidance?: number | undefined;
  width?: number | undefined;
  height?: number | undefined;
  frames?: number | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((event: { type: "denoise:step"; done: number; total: number }) => void) | undefined;
  /**
   * Called with each tensor of the trace as soon as it is final — the text
   * embeddings, then each step's input latent and outputs, then the final
   * latent — so a caller can commit the trace while the next steps run
   * (`TraceCommitter`). The arrays are the trace's own; they are not changed
   * afterwards.
   */
  onTensor?: ((data: Float32Array) => void) | undefined;
}

export interface Generation {
  /** RGB24 frames, width·height·3 bytes each, row-major. */
  frames: Uint8Array[];
  trace: PipelineTrace;
}

export interface CreatePipelineRunnerOptions {
  pipeline: Pipeline;
  device?: PipelineDevice | undefined;
  deviceId?: number | undefined;
  /** CPU threads per session (default: all cores). */
  threads?: number | undefined;
  /** Run both guidance branches as one batch of 2 (default) or one after the other. */
  guidanceBatch?: 1 | 2 | undefined;
  logger?: Pick<Logger, "info" | "warn"> | undefined;
}

interface Sessions {
  text: ort.InferenceSession;
  denoiser: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

/**
 * Runs any pipeline its manifest describes: tokenize → text encoder → the
 * scheduler loop over the denoiser (with classifier-free guidance when the
 * manifest says so) → decoder, keeping the trace of every step. Nothing in
 * it knows the default model: tensor names, shapes, the scheduler and the
 * frame rule all come from the manifest.
 */
export class PipelineRunner {
  readonly manifest: Pipeline["manifest"];
  readonly device: "cpu" | "cuda";
  /** The manifest's tokenizer (word-vocab or tokenizer.json). */
  readonly tokenizer: TextTokenizer;
  readonly #sessions: Sessions;
  readonly #guidanceBatch: 1 | 2;
  #lastTextBatch: { cond: Float32Array; uncond: Float32Array; both: Float32Array } | undefined;
  #closed = false;

  private constructor(
    manifest: Pipeline["manifest"],
    tokenizer: TextTokenizer,
    sessions: Sessions,
    device: "cpu" | "cuda",
    guidanceBatch: 1 | 2,
  ) {
    this.manifest = manifest;
    this.tokenizer = tokenizer;
    this.#sessions = sessions;
    this.device = device;
    this.#guidanceBatch = guidanceBatch;
  }

  static async create(options: CreatePipelineRunnerOptions): Promise<PipelineRunner> {
    const { pipeline } = options;
    const logger = options.logger ?? createLogger({ name: "model:pipeline" });
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    // Before any session opens: a tokenizer this runner cannot run is refused by name.
    const tokenizer = createTokenizer(pipeline.manifest.components.tokenizer, pipeline.files.tokenizer);
    const open = (bytes: Uint8Array, what: string) =>
      openSession(bytes, { device: options.device ?? "auto", deviceId: options.deviceId, threads, logger, what });
    const text = await open(pipeline.files.textEncoder, "text encoder");
    const denoiser = await open(pipeline.files.denoiser, "denoiser");
    const decoder = await open(pipeline.files.decoder, "decoder");
    const sessions = { text: text.session, denoiser: denoiser.session, decoder: decoder.session };
    try {
      checkBindings(pipeline.manifest, sessions);
    } catch (err) {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
      throw err;
    }
    logger.info(
      { pipeline: pipeline.manifest.id, name: pipeline.manifest.name, device: denoiser.device, threads },
      "pipeline runner ready",
    );
    return new PipelineRunner(pipeline.manifest, tokenizer, sessions, denoiser.device, options.guidanceBatch ?? 2);
  }

  /** The text embedding of `prompt` (batch 1). */
  async encodeText(prompt: string): Promise<HostTensor> {
    const { textEncoder } = this.manifest.components;
    const ids = this.tokenizer.encode(prompt);
    const feeds: Record<string, ort.Tensor> = {
      [textEncoder.bind.tokens]: intTensor(contractOf(textEncoder.inputs, textEncoder.bind.tokens), ids, [1, ids.length]),
    };
    if (textEncoder.bind.attentionMask) {
      const mask = ids.map((id) => (id === BigInt(this.tokenizer.padId) ? 0n : 1n));
      feeds[textEncoder.bind.attentionMask] = intTensor(contractOf(textEncoder.inputs, textEncoder.bind.attentionMask), mask, [
        1,
        ids.length,
      ]);
    }
    return this.#run(this.#sessions.text, feeds, textEncoder.bind.output, "text encoder");
  }

  /**
   * The denoiser's output at one step for each guidance branch. `uncond`
   * undefined runs the conditional branch only.
   */
  async denoise(
    latent: HostTensor,
    t: number,
    cond: HostTensor,
    uncond?: HostTensor,
    batch: 1 | 2 = this.#guidanceBatch,
  ): Promise<{ cond: Float32Array; uncond?: Float32Array }> {
    const { bind, inputs } = this.manifest.components.denoiser;
    const run = async (n: number, lat: Float32Array, text: Float32Array, textDims: readonly number[]) => {
      const feeds = {
        [bind.latent]: new ort.Tensor("float32", lat, [n, ...latent.dims.slice(1)]),
        [bind.timestep]: timestepTensor(contractOf(inputs, bind.timestep), t, n),
        [bind.text]: new ort.Tensor("float32", text, [n, ...textDims.slice(1)]),
      };
      return (await this.#run(this.#sessions.denoiser, feeds, bind.output, "denoiser")).data;
    };
    if (uncond === undefined) return { cond: await run(1, latent.data, cond.data, cond.dims) };
    if (batch === 1)
      return { cond: await run(1, latent.data, cond.data, cond.dims), uncond: await run(1, latent.data, uncond.data, uncond.dims) };
    const both = await run(2, concat(latent.data, latent.data), this.#textBatch(cond.data, uncond.data), cond.dims);
    const half = latent.data.length;
    return { cond: both.slice(0, half), uncond: both.slice(half) };
  }

  /** Decodes latent frames [from, from + count) of a [1, C, F, h, w] latent; returns [1, 3, F', H, W] in the decoder's range. */
  async decodeTile(latent: HostTensor, from: number, count: number): Promise<HostTensor> {
    const [, c, f, h, w] = latent.dims as [number, number, number, number, number];
    if (from < 0 || count < 1 || from + count > f)
      throw new RangeError(`latent frames ${from}..${from + count - 1} are outside 0..${f - 1}`);
    const plane = h * w;
    const tile = new Float32Array(c * count * plane);
    for (let ch = 0; ch < c; ch++)
      tile.set(latent.data.subarray((ch * f + from) * plane, (ch * f + from + count) * plane), ch * count * plane);
    const { bind } = this.manifest.components.decoder;
    return this.#run(
      this.#sessions.decoder,
      { [bind.latent]: new ort.Tensor("float32", tile, [1, c, count, h, w]) },
      bind.output,
      "decoder",
    );
  }

  /** Generates one segment's clip and its trace. */
  async generate(options: GenerateOptions): Promise<Generation> {
    if (this.#closed) throw new RenderError("The pipeline runner is closed.");
    const m = this.manifest;
    const steps = options.steps ?? m.sampling.steps.default;
    const guidance = options.guidance ?? m.sampling.guidance.default;
    const width = options.width ?? m.video.width;
    const height = options.height ?? m.video.height;
    const frames = options.frames ?? m.video.framesPerClip;
    const problems: string[] = [];
    if (!Number.isInteger(steps) || steps < m.sampling.steps.min || steps > m.sampling.steps.max)
      problems.push(`steps ${steps} is outside ${m.sampling.steps.min}..${m.sampling.steps.max}`);
    if (!(guidance >= m.sampling.guidance.min && guidance <= m.sampling.guidance.max))
      problems.push(`guidance ${guidance} is outside ${m.sampling.guidance.min}..${m.sampling.guidance.max}`);
    if (width !== m.video.width || height !== m.video.height)
      problems.push(`${width}x${height} is not the pipeline's native ${m.video.width}x${m.video.height}`);
    let dims: number[] = [];
    try {
      dims = latentShape(m, width, height, frames);
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (!Number.isSafeInteger(options.seed) || options.seed < 0) problems.push(`seed ${options.seed} is not a non-negative integer`);
    if (problems.length > 0) throw new RenderRequestError(`The request does not fit pipeline ${m.name}.`, { details: problems });

    const cfg = m.sampling.guidance.classifierFree;
    const cond = await this.encodeText(options.prompt);
    const uncond = cfg ? await this.encodeText(m.sampling.guidance.negativePrompt) : undefined;
    const onTensor = options.onTensor;
    onTensor?.(cond.data);
    if (uncond) onTensor?.(uncond.data);
    const scheduler = createScheduler(m.scheduler);
    scheduler.setTimesteps(steps);
    const count = dims.reduce((a, b) => a * b, 1);
    let sample = segmentNoise(options.seed, options.segment, count);
    if (scheduler.initNoiseSigma !== 1) sample = sample.map((v) => Math.fround(v * scheduler.initNoiseSigma));
    const trace: TraceStep[] = [];
    for (const [i, t] of scheduler.timesteps.entries()) {
      options.signal?.throwIfAborted();
      const out = await this.denoise({ data: sample, dims }, t, cond, uncond);
      // A diverged model would deliver a clip of garbage that every verifier refuses: stop with a reason instead.
      if (!allFinite(out.cond) || (out.uncond !== undefined && !allFinite(out.uncond)))
        throw new RenderError(`The denoiser's output at step ${i} is not finite: the model diverged on this prompt.`, {
          hint: `Pipeline ${m.name} cannot render ${JSON.stringify(options.prompt)}; a prompt in the form it was trained on (see its README) renders.`,
        });
      const v = out.uncond === undefined ? out.cond : guide(out.cond, out.uncond, guidance);
      trace.push({ t, latent: sample, cond: out.cond, uncond: out.uncond });
      if (onTensor) {
        onTensor(sample);
        onTensor(out.cond);
        if (out.uncond) onTensor(out.uncond);
      }
      sample = scheduler.step(v, t, sample);
      options.onStep?.({ type: "denoise:step", done: i + 1, total: steps });
    }
    onTensor?.(sample);
    const rgb = await this.decodeFrames({ data: sample, dims }, width, height, frames, options.signal);
    return {
      frames: rgb,
      trace: {
        pipeline: m.id,
        seed: options.seed,
        segment: options.segment,
        guidance,
        latentDims: dims,
        text: { dims: cond.dims, cond: cond.data, uncond: uncond?.data },
        steps: trace,
        final: sample,
      },
    };
  }

  /** Decodes a whole latent tile by tile into RGB24 frames. */
  async decodeFrames(latent: HostTensor, width: number, height: number, frames: number, signal?: AbortSignal): Promise<Uint8Array[]> {
    const f = latent.dims[2] as number;
    const per = this.manifest.decode.latentFramesPerTile;
    const out: Uint8Array[] = [];
    for (let from = 0; from < f; from += per) {
      signal?.throwIfAborted();
      const decoded = await this.decodeTile(latent, from, Math.min(per, f - from));
      out.push(...framesToRgb24(decoded, this.manifest.components.decoder.outputRange, width, height));
    }
    if (out.length !== frames) throw new ModelContractError(`The decoder made ${out.length} frames; the clip has ${frames}.`);
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(Object.values(this.#sessions).map((s) => s.release()));
  }

  /** The two text embeddings as one batch of 2: the same pair every step of a segment, so it is joined once. */
  #textBatch(cond: Float32Array, uncond: Float32Array): Float32Array {
    const last = this.#lastTextBatch;
    if (last?.cond === cond && last.uncond === uncond) return last.both;
    const both = concat(cond, uncond);
    this.#lastTextBatch = { cond, uncond, both };
    return both;
  }

  async #run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, output: string, what: string): Promise<HostTensor> {
    let result: ort.Tensor | undefined;
    try {
      result = (await session.run(feeds, [output]))[output];
    } catch (cause) {
      throw new RenderError(`The ${what} of pipeline ${this.manifest.name} failed.`, { cause, details: [firstLine(cause)] });
    }
    if (result === undefined || result.type !== "float32") throw new ModelContractError(`The ${what} returned no float32 ${output}.`);
    return { data: result.data as Float32Array, dims: result.dims };
  }
}

/** Decoder output [1, 3, F, H, W] → RGB24 frames, rounding to nearest and clamping. */
export function framesToRgb24(decoded: HostTensor, range: "0,1" | "-1,1", width: number, height: number): Uint8Array[] {
  const [, c, f, h, w] = decoded.dims as [number, number, number, number, number];
  if (c !== 3 || h !== height || w !== width)
    throw new ModelContractError(`The decoder returned [${decoded.dims.join(", ")}], expected [1, 3, F, ${height}, ${width}].`);
  const plane = h * w;
  const out: Uint8Array[] = [];
  for (let k = 0; k < f; k++) {
    const rgb = new Uint8Array(plane * 3);
    for (let ch = 0; ch < 3; ch++) {
      const base = (ch * f + k) * plane;
      for (let p = 0; p < plane; p++) {
        let v = decoded.data[base + p] as number;
        if (range === "-1,1") v = (v + 1) / 2;
        rgb[p * 3 + ch] = v >= 1 ? 255 : v > 0 ? (v * 255 + 0.5) | 0 : 0;
      }
    }
    out.push(rgb);
  }
  return out;
}

function checkBindings(
  m: PipelineManifest,
  s: { text: ort.InferenceSession; denoiser: ort.InferenceSession; decoder: ort.InferenceSession },
): void {
  const problems: string[] = [];
  const check = (what: string, session: ort.InferenceSession, inputs: (string | undefined)[], output: string) => {
    for (const name of inputs)
      if (name !== undefined && !session.inputNames.includes(name))
        problems.push(`${what} has no input ${name} (has ${session.inputNames.join(", ")})`);
    if (!session.outputNames.includes(output)) problems.push(`${what} has no output ${output} (has ${session.outputNames.join(", ")})`);
  };
  const { textEncoder, denoiser, decoder } = m.components;
  check("text encoder", s.text, [textEncoder.bind.tokens, textEncoder.bind.attentionMask], textEncoder.bind.output);
  check("denoiser", s.denoiser, [denoiser.bind.latent, denoiser.bind.timestep, denoiser.bind.text], denoiser.bind.output);
  check("decoder", s.decoder, [decoder.bind.latent], decoder.bind.output);
  if (problems.length > 0)
    throw new ModelContractError(`Pipeline ${m.name}'s ONNX files do not match its manifest.`, {
      details: problems,
      hint: "Fix the tensor names under components.*.bind.",
    });
}

function contractOf(tensors: readonly PipelineTensor[], name: string): PipelineTensor | undefined {
  return tensors.find((t) => t.name === name);
}

function intTensor(contract: PipelineTensor | undefined, ids: BigInt64Array, dims: number[]): ort.Tensor {
  if (contract?.dtype === "int32")
    return new ort.Tensor(
      "int32",
      Int32Array.from(ids, (v) => Number(v)),
      dims,
    );
  return new ort.Tensor("int64", ids, dims);
}

function timestepTensor(contract: PipelineTensor | undefined, t: number, n: number): ort.Tensor {
  if (contract?.dtype === "int64") return new ort.Tensor("int64", new BigInt64Array(n).fill(BigInt(Math.round(t))), [n]);
  return new ort.Tensor("float32", new Float32Array(n).fill(t), [n]);
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function allFinite(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
  return true;
}
