import { fileURLToPath } from "node:url";
import { RenderRequestError } from "../errors.js";
import type { Generation } from "./runner.js";
import type { SegmentGenerator } from "./runner-thread.js";

/** The default diffusion pipeline's manifest, committed under models/ (same depth from src/ and dist/). */
export function defaultPipelinePath(): string {
  return fileURLToPath(new URL("../../../../../models/diffusion-default/pipeline.json", import.meta.url));
}

/** The fields of a job spec that decide a pipeline segment (a `JobSpec` fits). */
export interface PipelineSegmentSpec {
  prompt: string;
  seed: number;
  fps: number;
  width: number;
  height: number;
}

/**
 * A provider's view of a pipeline: one segment (one second, `fps` frames) is
 * one clip, generated jointly with the noise of (job seed, segment). Any
 * provider can render any segment, in parallel with the others.
 */
export class PipelineFrameSource {
  readonly runner: SegmentGenerator;

  constructor(runner: SegmentGenerator) {
    this.runner = runner;
  }

  get device(): "cpu" | "cuda" {
    return this.runner.device;
  }

  get manifest(): SegmentGenerator["manifest"] {
    return this.runner.manifest;
  }

  /** The segment a frame range is, or a clear refusal when the range is not one whole clip of this pipeline. */
  segmentOf(spec: PipelineSegmentSpec, firstFrame: number, frameCount: number): number {
    const v = this.runner.manifest.video;
    const problems: string[] = [];
    if (spec.fps !== v.fps) problems.push(`fps ${spec.fps} is not the pipeline's ${v.fps}`);
    if (spec.width !== v.width || spec.height !== v.height)
      problems.push(`${spec.width}x${spec.height} is not the pipeline's ${v.width}x${v.height}`);
    if (frameCount !== v.framesPerClip || firstFrame % frameCount !== 0)
      problems.push(`frames ${firstFrame}+${frameCount} are not one clip of ${v.framesPerClip}`);
    if (problems.length > 0)
      throw new RenderRequestError(`The request does not fit pipeline ${this.runner.manifest.name}.`, {
        details: problems,
        hint: `Ask for ${v.width}x${v.height} at ${v.fps} fps.`,
      });
    return firstFrame / frameCount;
  }

  /** Renders one segment with its trace. */
  async renderSegment(options: {
    spec: PipelineSegmentSpec;
    firstFrame: number;
    frameCount: number;
    signal?: AbortSignal | undefined;
    /** Each trace tensor as soon as it is final (see `GenerateOptions.onTensor`). */
    onTensor?: ((data: Float32Array) => void) | undefined;
  }): Promise<Generation & { segment: number }> {
    const segment = this.segmentOf(options.spec, options.firstFrame, options.frameCount);
    const gen = await this.runner.generate({
      prompt: options.spec.prompt,
      seed: options.spec.seed,
      segment,
      signal: options.signal,
      onTensor: options.onTensor,
    });
    return { ...gen, segment };
  }

  /** The frames alone (benchmarks, callers that keep no trace). */
  async *renderFrames(options: {
    spec: PipelineSegmentSpec;
    firstFrame: number;
    frameCount: number;
    signal?: AbortSignal | undefined;
  }): AsyncGenerator<Uint8Array, void, undefined> {
    yield* (await this.renderSegment(options)).frames;
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}
