import { seedWords, Xoshiro128 } from "../prng.js";

/** "nois": keeps the noise stream apart from any other use of the same seed words. */
const NOISE_SALT = 0x6e6f6973;

/**
 * The initial noise of one segment: `count` float32 values, standard normal
 * (Irwin–Hall of 12 uniforms), from xoshiro128** seeded with the job seed's
 * two words, the segment number and a salt. Only 32-bit integer arithmetic
 * and exact sums of multiples of 2^-24, so every machine draws the same bits.
 */
export function segmentNoise(jobSeed: number, segment: number, count: number): Float32Array {
  if (!Number.isSafeInteger(segment) || segment < 0 || segment > 0xffffffff)
    throw new RangeError(`segment must be a 32-bit non-negative integer, got ${segment}`);
  const [lo, hi] = seedWords(jobSeed);
  const rng = new Xoshiro128(lo, hi, segment, NOISE_SALT);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal();
  return out;
}
