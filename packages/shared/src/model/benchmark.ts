import type { ModelManifest } from "./manifest.js";
import type { Renderer } from "./renderer.js";

export interface BenchmarkOptions {
  /** Timed frames (default 8). */
  frames?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface BenchmarkResult {
  /** Frames per second at the reference size. */
  fps: number;
  frames: number;
  seconds: number;
  width: number;
  height: number;
  device: "cpu" | "cuda";
}

/**
 * Measures how fast a renderer produces frames at the model's reference
 * size, after one warm-up frame. Providers report this speed; the
 * coordinator schedules by it.
 *
 * @example
 * const { fps } = await benchmarkRenderer(renderer, renderer.manifest);
 */
export async function benchmarkRenderer(
  renderer: Renderer,
  manifest: ModelManifest = renderer.manifest,
  options: BenchmarkOptions = {},
): Promise<BenchmarkResult> {
  const frames = options.frames ?? 8;
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frames must be a positive integer, got ${frames}`);
  const { width, height, fps } = manifest.reference;
  const spec = { prompt: "benchmark: a swirling field of colour", seed: 1, width, height, fps };
  for await (const _ of renderer.renderFrames({ spec, firstFrame: 0, frameCount: 1, signal: options.signal }));
  const start = performance.now();
  for await (const _ of renderer.renderFrames({ spec, firstFrame: 1, frameCount: frames, signal: options.signal }));
  const seconds = (performance.now() - start) / 1000;
  return { fps: frames / seconds, frames, seconds, width, height, device: renderer.device };
}
