/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) used for the
 * default model's weights and the prompt latent. It uses only 32-bit integer
 * arithmetic, so it gives the same numbers on every JavaScript engine and
 * platform; `Math.random` is never used where output must be reproducible.
 */
export class Xoshiro128 {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** Seeds from up to four 32-bit words (extra words are mixed in, missing ones are zero). */
  constructor(...seed: number[]) {
    let x = 0x9e3779b9;
    for (const word of seed) x = splitmix32Step(x ^ (word >>> 0));
    const next = () => (x = splitmix32Step(x));
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Uniform in [0, 1), exactly representable (24 random bits). */
  next(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * Approximately standard normal (Irwin–Hall sum of 12 uniforms minus 6).
   * Only additions, so the value is identical everywhere, unlike Box–Muller
   * whose `Math.log`/`Math.cos` may differ between engines.
   */
  normal(): number {
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += this.next();
    return sum - 6;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** One splitmix32 step: a good 32-bit mixer for seeding. */
function splitmix32Step(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Splits a non-negative integer seed (up to 2^53) into two 32-bit words. */
export function seedWords(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  return [seed >>> 0, Math.floor(seed / 4294967296) >>> 0];
}
