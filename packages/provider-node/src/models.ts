import type { Logger } from "@rendermesh/shared";
import {
  benchmarkRenderer,
  createRenderer,
  defaultModel,
  defaultPipelinePath,
  DEFAULT_REFERENCE,
  loadModel,
  loadPipeline,
  PipelineFrameSource,
  PipelineRunnerThread,
  pooledGenerator,
  pooledRenderer,
  type Model,
  type Renderer,
} from "@rendermesh/shared/model";
import { DeviceUnavailableError, ModelRejectedError } from "./errors.js";

/** A model this node serves: its renderer and the speed it measured. */
export interface ServedModel {
  id: string;
  name: string;
  source: string;
  /** The field renderer, or a diffusion pipeline's frame source (which also commits a trace). */
  renderer: Renderer | PipelineFrameSource;
  /** Frames per second at the model's reference size (measured, or from config). */
  benchmarkFps: number;
  reference: { width: number; height: number; fps: number };
}

export interface LoadModelsOptions {
  /**
   * `default` (the field model), `diffusion-default` (the trained pipeline),
   * ONNX paths (manifest beside each, `<file>.manifest.json`) and/or pipeline
   * manifests (`*.json`, ONNX files beside it).
   */
  sources: readonly string[];
  device: "cpu" | "cuda" | "auto";
  /** Model ids the policy allows (lower-case 0x); others are refused. */
  allowed: ReadonlySet<string>;
  /** Frames per inference run; undefined lets the renderer pick. */
  batchFrames?: number | undefined;
  /** CPU threads per ONNX Runtime session; undefined: every core. */
  threads?: number | undefined;
  /**
   * Renderers per model (default 1), each with its sessions on an inference
   * thread of its own, so that many segments render at once (`concurrency`).
   */
  renderers?: number | undefined;
  /** Skip measuring and advertise this speed. */
  benchmarkFps?: number | undefined;
  /** Timed frames of the self-benchmark (default 8). */
  benchmarkFrames?: number | undefined;
  logger: Logger;
}

/**
 * Loads every configured model, checks each id (sha256 of its ONNX bytes)
 * against the policy's allowed list, opens a renderer on the requested
 * device and runs the short self-benchmark that the node advertises.
 * `--device cuda` that cannot load CUDA fails here, loudly; `auto` falls
 * back to the CPU and says so.
 */
export async function loadServedModels(options: LoadModelsOptions): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  const rejected: string[] = [];
  try {
    for (const source of options.sources) {
      if (source === "diffusion-default" || source.endsWith(".json")) {
        const servedPipeline = await loadServedPipeline(
          source === "diffusion-default" ? defaultPipelinePath() : source,
          source,
          options,
          rejected,
        );
        if (servedPipeline && !served.some((m) => m.id === servedPipeline.id)) served.push(servedPipeline);
        else if (servedPipeline) await servedPipeline.renderer.close();
        continue;
      }
      let model: Model;
      try {
        model = source === "default" ? defaultModel() : await loadModel(source);
      } catch (cause) {
        throw new ModelRejectedError(`Cannot load model ${source}.`, {
          cause,
          hint: "Check the path; a model needs <file>.manifest.json beside it.",
        });
      }
      const id = model.manifest.id.toLowerCase();
      if (!options.allowed.has(id)) {
        rejected.push(`${source} (${id})`);
        options.logger.warn({ model: id, source }, "model is not on the policy's allowed list; not serving it");
        continue;
      }
      if (served.some((m) => m.id === id)) continue;
      let members: Renderer[];
      try {
        members = await openEach(renderersOf(options), () =>
          createRenderer({
            model,
            device: options.device,
            logger: options.logger,
            batchSize: options.batchFrames || undefined,
            threads: options.threads,
            // A batch runs on a thread of its own, never holding the node's network and encoder pipes.
            thread: true,
          }),
        );
      } catch (cause) {
        if ((cause as { name?: string }).name === "CudaUnavailableError") {
          throw new DeviceUnavailableError("--device cuda was asked for, but ONNX Runtime could not load its CUDA execution provider.", {
            cause,
            hint: "Install the CUDA build: `ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm install --force` on a machine with CUDA 12 and cuDNN 9 (see packages/provider-node/README.md), or run with --device auto or --device cpu.",
          });
        }
        throw cause;
      }
      const renderer = pooledRenderer(members);
      if (options.device === "auto" && renderer.device === "cpu")
        options.logger.warn({ model: id }, "--device auto: CUDA did not load, rendering on the CPU");
      let fps = options.benchmarkFps;
      if (fps === undefined) {
        // Every renderer at once, as when every slot is busy: the speed of one render then is what a coordinator can count on.
        const results = await Promise.all(
          members.map((r) => benchmarkRenderer(r, r.manifest, { frames: options.benchmarkFrames ?? 8 })),
        ).catch(async (err: unknown) => {
          await renderer.close().catch(() => {});
          throw err;
        });
        const result = results.reduce((slowest, r) => (r.fps < slowest.fps ? r : slowest));
        fps = result.fps;
        options.logger.info(
          {
            model: id,
            fps: Number(fps.toFixed(2)),
            size: `${result.width}x${result.height}`,
            device: result.device,
            renderers: members.length,
          },
          "self-benchmark",
        );
      }
      served.push({ id, name: model.manifest.name, source, renderer, benchmarkFps: fps, reference: { ...model.manifest.reference } });
    }
  } catch (err) {
    await Promise.allSettled(served.map((m) => m.renderer.close()));
    throw err;
  }
  if (served.length === 0) {
    throw new ModelRejectedError("None of the configured models is on the content policy's allowed list.", {
      byPolicy: true,
      details: rejected.map((r) => `not allowed: ${r}`),
      hint: "Serve an allowed model (`rendermesh policy show` lists them), or ask the DAO to allow yours.",
    });
  }
  return served;
}

/** Loads a diffusion pipeline, checks its id against the policy, opens its runner and times one segment. */
async function loadServedPipeline(
  path: string,
  source: string,
  options: LoadModelsOptions,
  rejected: string[],
): Promise<ServedModel | undefined> {
  let runners: PipelineRunnerThread[];
  try {
    const pipeline = await loadPipeline(path);
    const id = pipeline.manifest.id.toLowerCase();
    if (!options.allowed.has(id)) {
      rejected.push(`${source} (${id})`);
      options.logger.warn({ model: id, source }, "pipeline is not on the policy's allowed list; not serving it");
      return undefined;
    }
    // On a thread of its own: denoising steps would otherwise hold the node's network and commits (runner-thread.ts).
    runners = await openEach(renderersOf(options), () =>
      PipelineRunnerThread.create({ pipeline, device: options.device, threads: options.threads, logger: options.logger }),
    );
  } catch (cause) {
    if ((cause as { name?: string }).name === "CudaUnavailableError") {
      throw new DeviceUnavailableError("--device cuda was asked for, but ONNX Runtime could not load its CUDA execution provider.", {
        cause,
      });
    }
    throw new ModelRejectedError(`Cannot load pipeline ${source}.`, { cause, hint: "Give a pipeline.json with its ONNX files beside it." });
  }
  const renderer = new PipelineFrameSource(pooledGenerator(runners));
  const { video, id, name } = renderer.manifest;
  let fps = options.benchmarkFps;
  if (fps === undefined) {
    // One segment on every runner at once (the pool gives each its own): the slowest is what a full provider renders at.
    const seconds = await Promise.all(
      runners.map(async () => {
        const started = performance.now();
        await renderer.renderSegment({
          spec: { prompt: "benchmark", seed: 1, fps: video.fps, width: video.width, height: video.height },
          firstFrame: 0,
          frameCount: video.framesPerClip,
        });
        return (performance.now() - started) / 1000;
      }),
    ).catch(async (err: unknown) => {
      await renderer.close().catch(() => {});
      throw err;
    });
    fps = video.framesPerClip / Math.max(...seconds);
    options.logger.info(
      {
        model: id,
        fps: Number(fps.toFixed(2)),
        size: `${video.width}x${video.height}`,
        device: renderer.device,
        renderers: runners.length,
      },
      "self-benchmark",
    );
  }
  // Asks are per second at the network's reference size (the coordinator prices every job against it), so a
  // pipeline's native size is scaled like any other spec; the benchmark is converted to that reference too.
  const scale = (video.width * video.height) / (DEFAULT_REFERENCE.width * DEFAULT_REFERENCE.height);
  return { id: id.toLowerCase(), name, source, renderer, benchmarkFps: fps * scale, reference: { ...DEFAULT_REFERENCE } };
}

function renderersOf(options: LoadModelsOptions): number {
  const n = options.renderers ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`renderers must be a positive integer, got ${n}`);
  return n;
}

/** Opens `count` renderers one after another; if one fails, those already open are closed and the error goes up. */
async function openEach<T extends { close(): Promise<void> }>(count: number, open: () => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  try {
    for (let i = 0; i < count; i++) opened.push(await open());
    return opened;
  } catch (err) {
    await Promise.allSettled(opened.map((r) => r.close()));
    throw err;
  }
}
