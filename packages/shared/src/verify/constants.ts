/**
 * Defaults of the segment verifier. The PSNR threshold and the sample sizes
 * come from measurement: see `packages/client/src/verify/README.md` and
 * `packages/client/test/psnr-threshold.test.ts`, which re-measures them.
 */

/**
 * A sampled frame passes when the luma (BT.709 Y′) PSNR of its sampled
 * pixels against the client's own render is at least this many dB. Honest
 * segments measure well above it, materially wrong ones far below (see
 * README.md for the measured distributions).
 */
export const DEFAULT_PSNR_THRESHOLD_DB = 33;

/**
 * And the RGB PSNR of the same pixels is at least this many dB: a coarse
 * colour guard (swapped channels, wrong palette) below the honest RGB
 * minimum, which 4:2:0 chroma subsampling pulls down at tiny frame sizes.
 */
export const DEFAULT_RGB_FLOOR_DB = 20;

/** Frames spot-checked per segment, chosen uniformly at random after delivery. */
export const DEFAULT_SAMPLED_FRAMES = 3;

/** Fraction of each sampled frame's pixels that is re-rendered and compared. */
export const DEFAULT_PIXEL_FRACTION = 1 / 8;

/** At least this many pixels per sampled frame (or all of them, if fewer). */
export const DEFAULT_MIN_PIXELS = 256;

/** Fetch attempts before a segment is reported as unfetchable. */
export const DEFAULT_FETCH_ATTEMPTS = 3;

/** One fetch attempt. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

/** Pause between fetch attempts (doubled each time). */
export const DEFAULT_FETCH_BACKOFF_MS = 500;
