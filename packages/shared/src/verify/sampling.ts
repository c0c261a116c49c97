import { randomInt } from "node:crypto";

/** A source of uniform integers in [0, maxExclusive); crypto-strong by default. */
export type RandomInt = (maxExclusive: number) => number;

export const cryptoRandomInt: RandomInt = (maxExclusive) => randomInt(maxExclusive);

/**
 * `k` distinct integers from [0, n), ascending (Floyd's algorithm: k draws,
 * no array of size n). All of them when k ≥ n.
 */
export function sampleDistinct(n: number, k: number, random: RandomInt = cryptoRandomInt): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = random(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * PSNR in dB of `actual` against `expected` (same length, 8-bit samples,
 * peak 255). Infinity when they are equal.
 */
export function psnr8(expected: Uint8Array, actual: Uint8Array): number {
  if (expected.length !== actual.length || expected.length === 0)
    throw new RangeError(`psnr8: lengths differ or are zero (${expected.length} vs ${actual.length})`);
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = (expected[i] as number) - (actual[i] as number);
    sum += d * d;
  }
  if (sum === 0) return Infinity;
  const mse = sum / expected.length;
  return 10 * Math.log10((255 * 255) / mse);
}

/** The RGB24 samples of `pixels` (row-major indices) picked out of a whole RGB24 frame. */
export function gatherPixels(frame: Uint8Array, pixels: Uint32Array): Uint8Array {
  const out = new Uint8Array(pixels.length * 3);
  for (let i = 0; i < pixels.length; i++) {
    const p = (pixels[i] as number) * 3;
    out[i * 3] = frame[p] as number;
    out[i * 3 + 1] = frame[p + 1] as number;
    out[i * 3 + 2] = frame[p + 2] as number;
  }
  return out;
}

/**
 * BT.709 luma (Y′, 0..255) of RGB24 samples: what H.264 keeps at full
 * resolution. Chroma is subsampled 2×2 by the encoder (4:2:0), so colour
 * detail at small frame sizes is lost honestly; comparing luma keeps the
 * honest error small while wrong content still differs grossly.
 */
export function luma709(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.round(0.2126 * (rgb[3 * i] as number) + 0.7152 * (rgb[3 * i + 1] as number) + 0.0722 * (rgb[3 * i + 2] as number));
  }
  return out;
}
