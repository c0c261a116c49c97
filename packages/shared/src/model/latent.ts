import { createHash } from "node:crypto";
import { Xoshiro128, seedWords } from "./prng.js";
import { DEFAULT_LATENT_DIM, LATENT_LAYOUT } from "./latent-layout.js";

/**
 * Colour words and the RGB (0..1) they pull the palette towards. Several
 * colour words average. See README.md beside this file.
 */
export const COLOUR_WORDS: Readonly<Record<string, readonly [number, number, number]>> = Object.freeze({
  red: [1, 0.08, 0.08],
  crimson: [0.86, 0.08, 0.24],
  scarlet: [1, 0.14, 0],
  green: [0.1, 0.9, 0.2],
  emerald: [0.1, 0.75, 0.45],
  lime: [0.6, 1, 0.1],
  forest: [0.1, 0.45, 0.15],
  blue: [0.1, 0.25, 1],
  navy: [0.05, 0.1, 0.5],
  azure: [0.2, 0.55, 1],
  sky: [0.45, 0.7, 1],
  ocean: [0.05, 0.35, 0.7],
  yellow: [1, 0.92, 0.1],
  orange: [1, 0.5, 0.05],
  amber: [1, 0.7, 0.05],
  gold: [1, 0.8, 0.2],
  golden: [1, 0.8, 0.2],
  purple: [0.55, 0.1, 0.9],
  violet: [0.6, 0.3, 1],
  indigo: [0.3, 0.1, 0.6],
  magenta: [1, 0.1, 0.85],
  pink: [1, 0.45, 0.7],
  cyan: [0.1, 0.9, 1],
  teal: [0.05, 0.55, 0.55],
  turquoise: [0.25, 0.88, 0.82],
  white: [1, 1, 1],
  snow: [0.95, 0.97, 1],
  black: [0, 0, 0],
  night: [0.05, 0.05, 0.2],
  grey: [0.5, 0.5, 0.5],
  gray: [0.5, 0.5, 0.5],
  silver: [0.75, 0.75, 0.8],
  brown: [0.45, 0.25, 0.1],
  fire: [1, 0.35, 0],
  sunset: [1, 0.4, 0.25],
  ice: [0.7, 0.9, 1],
});

/** Motion words: log2 of the speed factor they add (speeds multiply). */
export const SPEED_WORDS: Readonly<Record<string, number>> = Object.freeze({
  still: -4,
  static: -4,
  frozen: -4,
  motionless: -4,
  calm: -1.5,
  slow: -1.5,
  slowly: -1.5,
  lazy: -1.5,
  serene: -1.5,
  peaceful: -1.5,
  quiet: -1,
  gentle: -1,
  drifting: -0.5,
  floating: -0.5,
  fast: 1.5,
  quick: 1.5,
  quickly: 1.5,
  swift: 1.5,
  rapid: 2.5,
  racing: 2.5,
  frantic: 2.5,
  chaotic: 2.5,
  wild: 2,
  turbulent: 2,
  storm: 2.5,
  stormy: 2.5,
  explosive: 3,
});

/** Rotation words: radians of spin per unit of scaled time they add. */
export const SPIN_WORDS: Readonly<Record<string, number>> = Object.freeze({
  spinning: 1.2,
  rotating: 1.2,
  swirling: 0.9,
  whirling: 1.2,
  vortex: 1.5,
  spiral: 0.9,
  twisting: 0.7,
});

/** Drift words: a velocity (x right, y down) they add, in field units per unit of scaled time. */
export const DRIFT_WORDS: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  rising: [0, -0.5],
  falling: [0, 0.5],
  flowing: [0.4, 0],
  streaming: [0.5, 0],
  wind: [0.4, 0.1],
  windy: [0.4, 0.1],
});

/** Contrast words: log2 of the contrast factor they add. */
export const CONTRAST_WORDS: Readonly<Record<string, number>> = Object.freeze({
  vivid: 0.5,
  neon: 0.6,
  bright: 0.4,
  sharp: 0.5,
  intense: 0.5,
  electric: 0.6,
  soft: -0.6,
  muted: -0.7,
  pastel: -0.7,
  hazy: -0.7,
  foggy: -0.8,
  misty: -0.7,
  faded: -0.7,
  dreamy: -0.5,
});

/** How far colour words push the palette logits (per channel, at colour 0 or 1). */
const PALETTE_GAIN = 2;
/** Every prompt gets a small hashed tint so that even colourless prompts differ in hue. */
const TINT_GAIN = 0.3;
const STYLE_SEED_GAIN = 0.5;
const BASE_DRIFT = 0.15;
const BASE_SPIN = 0.15;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Lower-cased word tokens of a prompt (letters and digits of any script). */
export function promptWords(prompt: string): string[] {
  return prompt
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/**
 * The latent that steers the default model (encoding `rendermesh-prompt/1`):
 * colour words set the palette, motion words the speed, spin and drift,
 * contrast words the contrast, and every other word moves the style slots
 * through a hashed embedding; the seed adds its own style noise and picks
 * the drift direction. Uses only exactly rounded arithmetic, so every
 * machine computes the same latent.
 *
 * @example
 * const latent = promptLatent("a calm blue sea at night", 42); // Float32Array(32)
 */
export function promptLatent(prompt: string, seed: number, dim: number = DEFAULT_LATENT_DIM): Float32Array {
  if (!Number.isInteger(dim) || dim <= LATENT_LAYOUT.style)
    throw new RangeError(`latent dim must be an integer above ${LATENT_LAYOUT.style}, got ${dim}`);
  const styleDim = dim - LATENT_LAYOUT.style;
  const latent = new Float32Array(dim);
  const words = promptWords(prompt);

  const colour = [0, 0, 0];
  let colours = 0;
  let logSpeed = 0;
  let logContrast = 0;
  const seedRng = new Xoshiro128(...seedWords(seed), 0x5eed);
  const driftAngle = seedRng.next();
  // A seed-chosen direction on the unit circle without trigonometry: a
  // rational parametrisation ((1-u²)/(1+u²), 2u/(1+u²)) with u in [-1, 1].
  const u = 2 * driftAngle - 1;
  const sign = seedRng.next() < 0.5 ? -1 : 1;
  let drift = [(sign * (1 - u * u)) / (1 + u * u), (2 * u) / (1 + u * u)].map((c) => c * BASE_DRIFT) as [number, number];
  let spin = (seedRng.next() < 0.5 ? -1 : 1) * BASE_SPIN;
  const style = new Float64Array(styleDim);
  const tint = [0, 0, 0];
  let plainWords = 0;

  for (const word of words) {
    const c = COLOUR_WORDS[word];
    if (c) {
      for (let i = 0; i < 3; i++) colour[i] = (colour[i] as number) + (c[i] as number);
      colours++;
      continue;
    }
    const speedWord = SPEED_WORDS[word];
    const spinWord = SPIN_WORDS[word];
    const driftWord = DRIFT_WORDS[word];
    const contrastWord = CONTRAST_WORDS[word];
    if (speedWord !== undefined || spinWord !== undefined || driftWord !== undefined || contrastWord !== undefined) {
      logSpeed += speedWord ?? 0;
      spin += (spin < 0 ? -1 : 1) * (spinWord ?? 0);
      if (driftWord) drift = [drift[0] + driftWord[0], drift[1] + driftWord[1]];
      logContrast += contrastWord ?? 0;
      continue;
    }
    const rng = wordRng(word);
    for (let i = 0; i < styleDim; i++) style[i] = (style[i] as number) + rng.normal();
    for (let i = 0; i < 3; i++) tint[i] = (tint[i] as number) + rng.normal();
    plainWords++;
  }

  const norm = plainWords > 0 ? 1 / Math.sqrt(plainWords) : 0;
  for (let i = 0; i < 3; i++) {
    const pull = colours > 0 ? PALETTE_GAIN * (2 * ((colour[i] as number) / colours) - 1) : 0;
    latent[LATENT_LAYOUT.palette + i] = pull + TINT_GAIN * (tint[i] as number) * norm;
  }
  latent[LATENT_LAYOUT.logSpeed] = clamp(logSpeed, -5, 3);
  latent[LATENT_LAYOUT.spin] = clamp(spin, -3, 3);
  latent[LATENT_LAYOUT.drift] = clamp(drift[0], -1.5, 1.5);
  latent[LATENT_LAYOUT.drift + 1] = clamp(drift[1], -1.5, 1.5);
  latent[LATENT_LAYOUT.logContrast] = clamp(logContrast, -2, 1.5);
  for (let i = 0; i < styleDim; i++) latent[LATENT_LAYOUT.style + i] = (style[i] as number) * norm + STYLE_SEED_GAIN * seedRng.normal();
  return latent;
}

function wordRng(word: string): Xoshiro128 {
  const digest = createHash("sha256").update(word, "utf8").digest();
  return new Xoshiro128(digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12));
}
