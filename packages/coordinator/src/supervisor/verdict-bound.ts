/** How long a delivery shown to the client may wait for its verdict before it is announced again. */
export interface VerdictBoundOptions {
  /** The least wait, whatever the segment (ms). */
  verdictWaitMs: number;
  /** The wait as a multiple of the time the segment took to render. */
  verdictRenderFactor: number;
}

/**
 * The verdict bound of one delivery: `verdictRenderFactor` × how long it took
 * to render, and never less than `verdictWaitMs`. The client's check re-runs
 * part of the render (random pixels, or sampled denoising steps and a decoded
 * tile) and often on slower hardware than the provider's, so its time follows
 * the model, the steps and the size the render took: a 7-step diffusion
 * segment that rendered in 20 s on two cores is not asked for again after a
 * fixed 15 s while the client is still checking it.
 */
export function verdictBoundMs(renderMs: number, options: VerdictBoundOptions): number {
  const scaled = Math.max(0, renderMs) * options.verdictRenderFactor;
  return Math.ceil(Math.max(options.verdictWaitMs, scaled));
}
