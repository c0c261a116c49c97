/**
 * Peak signal-to-noise ratio of two 8-bit images (or any equal-length byte
 * buffers), in dB: `10 · log10(255² / MSE)`; `Infinity` when they are equal.
 * The client's spot-check compares a re-rendered frame with the decoded one
 * this way (see README.md for measured values and the threshold).
 */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`psnr: buffers differ in length (${a.length} vs ${b.length})`);
  if (a.length === 0) throw new RangeError("psnr: empty buffers");
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d * d;
  }
  if (sum === 0) return Infinity;
  return 10 * Math.log10((255 * 255 * a.length) / sum);
}

/** PSNR of each pair of frames. */
export function framePsnrs(a: readonly Uint8Array[], b: readonly Uint8Array[]): number[] {
  if (a.length !== b.length) throw new RangeError(`framePsnrs: ${a.length} frames vs ${b.length}`);
  return a.map((frame, i) => psnr(frame, b[i] as Uint8Array));
}

/** Mean of each channel of an RGB24 frame, in 0..255. */
export function meanRgb(frame: Uint8Array): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < frame.length; i += 3) {
    r += frame[i] as number;
    g += frame[i + 1] as number;
    b += frame[i + 2] as number;
  }
  const n = frame.length / 3;
  return [r / n, g / n, b / n];
}

/** Mean absolute difference per byte between two frames (0..255): a measure of motion between consecutive frames. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`meanAbsDiff: buffers differ in length (${a.length} vs ${b.length})`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}
