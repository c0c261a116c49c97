/**
 * Pixel-centre coordinates for the `coords` input, row-major (y, then x):
 * the longer side spans [-1, 1] and the shorter one keeps the aspect ratio,
 * so the picture is never stretched. Convention `centred-longest-side/1`.
 */
export function pixelCoords(width: number, height: number): Float32Array {
  const scale = Math.max(width, height);
  const out = new Float32Array(width * height * 2);
  let i = 0;
  for (let y = 0; y < height; y++) {
    const cy = (2 * y + 1 - height) / scale;
    for (let x = 0; x < width; x++) {
      out[i++] = (2 * x + 1 - width) / scale;
      out[i++] = cy;
    }
  }
  return out;
}
