/** Median and spread of repeated measurements, so that one noisy run cannot pass or fail a figure. */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics). */
  q1: number;
  q3: number;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new RangeError("no samples to summarize");
  if (samples.some((s) => !Number.isFinite(s))) throw new RangeError(`a sample is not a finite number: ${samples.join(", ")}`);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
  };
}

/** Median of a list (a stage's typical time in a breakdown). */
export function median(samples: readonly number[]): number {
  return summarize(samples).median;
}
