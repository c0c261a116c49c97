/**
 * Where the default model reads each part of the prompt latent. The prompt
 * encoder (`promptLatent`) writes these slots and the graph slices them, so
 * both sides agree through these constants.
 */
export const LATENT_LAYOUT = {
  /** Three palette logit offsets (red, green, blue) added before the output sigmoid. */
  palette: 0,
  /** log2 of the speed at which time advances (0 = 1×). */
  logSpeed: 3,
  /** Rotation of the field, radians per unit of scaled time. */
  spin: 4,
  /** Two components of the drift velocity (field units per unit of scaled time). */
  drift: 5,
  /** log2 of the output contrast (0 = 1×). */
  logContrast: 7,
  /** First of the style dimensions (hashed words + seed); they run to the end. */
  style: 8,
} as const;

/** The latent size of the default model. */
export const DEFAULT_LATENT_DIM = 32;

/** The name of the prompt encoding that `promptLatent` implements; manifests name it. */
export const PROMPT_ENCODING = "rendermesh-prompt/1";
