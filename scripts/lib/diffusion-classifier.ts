// A procedural judge of the default diffusion model's clips: it reads the
// background colour, the shape's colour, its shape and its direction of
// motion from decoded RGB24 frames, with no learned part, so prompt accuracy
// can be measured honestly. The vocabulary is models/diffusion-default/data.py's.

const PALETTE: Record<string, [number, number, number]> = {
  red: [0.9, 0.1, 0.1],
  green: [0.1, 0.8, 0.2],
  blue: [0.15, 0.25, 0.95],
  yellow: [0.95, 0.9, 0.1],
  white: [0.95, 0.95, 0.95],
  black: [0.05, 0.05, 0.05],
};
export const COLOURS = Object.keys(PALETTE);
export const SHAPES = ["circle", "square", "triangle"] as const;
export const DIRECTIONS = ["left", "right", "up", "down"] as const;

export interface ClipLabels {
  colour: string;
  shape: string;
  direction: string;
  background: string;
}

export function caption(l: ClipLabels): string {
  return `a ${l.colour} ${l.shape} moving ${l.direction} on a ${l.background} background`;
}

function nearest(rgb: [number, number, number], exclude?: string): string {
  let best = "";
  let bestD = Infinity;
  for (const [name, c] of Object.entries(PALETTE)) {
    if (name === exclude) continue;
    const d = (rgb[0] - c[0] * 255) ** 2 + (rgb[1] - c[1] * 255) ** 2 + (rgb[2] - c[2] * 255) ** 2;
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** Classifies one clip of RGB24 frames of size×size. */
export function classifyClip(frames: readonly Uint8Array[], size: number): ClipLabels {
  // Background: the mean of the border pixels of every frame.
  const border: [number, number, number] = [0, 0, 0];
  let n = 0;
  for (const f of frames)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        if (x > 1 && y > 1 && x < size - 2 && y < size - 2) continue;
        const i = (y * size + x) * 3;
        border[0] += f[i] as number;
        border[1] += f[i + 1] as number;
        border[2] += f[i + 2] as number;
        n++;
      }
  const bgMean: [number, number, number] = [border[0] / n, border[1] / n, border[2] / n];
  const background = nearest(bgMean);
  const bg = (PALETTE[background] as [number, number, number]).map((v) => v * 255);
  const fgSum: [number, number, number] = [0, 0, 0];
  let fgCount = 0;
  const centroids: Array<[number, number] | undefined> = [];
  const fills: number[] = [];
  for (const f of frames) {
    let cx = 0;
    let cy = 0;
    let count = 0;
    let x0 = size;
    let y0 = size;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const i = (y * size + x) * 3;
        const d =
          ((f[i] as number) - (bg[0] as number)) ** 2 +
          ((f[i + 1] as number) - (bg[1] as number)) ** 2 +
          ((f[i + 2] as number) - (bg[2] as number)) ** 2;
        if (d < 90 * 90) continue;
        cx += x;
        cy += y;
        count++;
        fgSum[0] += f[i] as number;
        fgSum[1] += f[i + 1] as number;
        fgSum[2] += f[i + 2] as number;
        fgCount++;
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    centroids.push(count > 10 ? [cx / count, cy / count] : undefined);
    if (count > 10) fills.push(count / ((x1 - x0 + 1) * (y1 - y0 + 1)));
  }
  const colour = fgCount > 0 ? nearest([fgSum[0] / fgCount, fgSum[1] / fgCount, fgSum[2] / fgCount], background) : "none";
  fills.sort((a, b) => a - b);
  const fill = fills.length > 0 ? (fills[Math.floor(fills.length / 2)] as number) : 0;
  const shape = fills.length === 0 ? "none" : fill > 0.88 ? "square" : fill > 0.64 ? "circle" : "triangle";
  const seen = centroids.filter((c): c is [number, number] => c !== undefined);
  let direction = "none";
  if (seen.length >= 2) {
    const a = seen[0] as [number, number];
    const b = seen[seen.length - 1] as [number, number];
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    if (Math.max(Math.abs(dx), Math.abs(dy)) > 4)
      direction = Math.abs(dx) > Math.abs(dy) ? (dx < 0 ? "left" : "right") : dy < 0 ? "up" : "down";
  }
  return { colour, shape, direction, background };
}
