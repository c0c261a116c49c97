/**
 * Asks and prices are in token base units per generated second at a model's
 * reference size and fps. A job costs in proportion to its pixels × frames,
 * so its price per second is the ask scaled by that ratio, rounded up.
 */
export interface ReferenceWork {
  width: number;
  height: number;
  fps: number;
}

/** Price per generated second of a spec for a given ask (rounded up: a provider never earns less than its ask). */
export function scalePrice(askPerSecond: bigint, spec: ReferenceWork, reference: ReferenceWork): bigint {
  const num = askPerSecond * BigInt(spec.width) * BigInt(spec.height) * BigInt(spec.fps);
  const den = BigInt(reference.width) * BigInt(reference.height) * BigInt(reference.fps);
  return (num + den - 1n) / den;
}

/** Whether a provider with this ask would render the spec for `pricePerSecond`. */
export function askFits(askPerSecond: bigint, pricePerSecond: bigint, spec: ReferenceWork, reference: ReferenceWork): boolean {
  return scalePrice(askPerSecond, spec, reference) <= pricePerSecond;
}
