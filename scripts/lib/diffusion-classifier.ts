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
  // The shape's colour: the nearest palette colour (not the background's) of the pixels far from the background.
  const fgSum: [number, number, number] = [0, 0, 0];
  let fgCount = 0;
  for (const f of frames)
    for (let i = 0; i < size * size * 3; i += 3) {
      const d =
        ((f[i] as number) - (bg[0] as number)) ** 2 +
        ((f[i + 1] as number) - (bg[1] as number)) ** 2 +
        ((f[i + 2] as number) - (bg[2] as number)) ** 2;
      if (d < 90 * 90) continue;
      fgSum[0] += f[i] as number;
      fgSum[1] += f[i + 1] as number;
      fgSum[2] += f[i + 2] as number;
      fgCount++;
    }
  if (fgCount === 0) return { colour: "none", shape: "none", direction: "none", background };
  const colour = nearest([fgSum[0] / fgCount, fgSum[1] / fgCount, fgSum[2] / fgCount], background);
  const fg = (PALETTE[colour] as [number, number, number]).map((v) => v * 255);
  // Per frame, the shape is the largest 4-connected region of pixels nearer the shape's colour than the
  // background's: a decoder's stray specks and soft edges (another colour, or the background's) are not part of it,
  // so they cannot stretch its bounding box.
  const centroids: Array<[number, number] | undefined> = [];
  const votes = new Map<string, number>();
  for (const f of frames) {
    const region = largestRegion(f, size, fg, bg);
    centroids.push(region.count > 10 ? [region.cx, region.cy] : undefined);
    if (region.count > 10) {
      const s = bestTemplate(region, size);
      votes.set(s, (votes.get(s) ?? 0) + 1);
    }
  }
  // The shape: the template most frames match best (a tie goes to the first in SHAPES).
  let shape = "none";
  for (const s of SHAPES) if ((votes.get(s) ?? 0) > (votes.get(shape) ?? 0)) shape = s;
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

interface Region {
  count: number;
  cx: number;
  cy: number;
  /** Which pixels (y·size + x) belong to the region. */
  mask: Uint8Array;
}

// data.py's shapes for radius R centred at (0, 0): their areas in units of R², and the triangle's centroid, 0.2R
// below its nominal centre (apex at −R, base at +0.8R).
const AREA = { circle: Math.PI, square: 1.7 * 1.7, triangle: 0.5 * 1.8 * (2 * 1.8 * 0.58) } as const;
function inside(shape: (typeof SHAPES)[number], X: number, Y: number, R: number): boolean {
  if (shape === "circle") return X * X + Y * Y < R * R;
  if (shape === "square") return Math.max(Math.abs(X), Math.abs(Y)) < R * 0.85;
  return Y > -R && Y < 0.8 * R && Math.abs(X) < (Y + R) * 0.58;
}

/**
 * The shape whose ideal mask (data.py's, of the region's area, at the region's centroid) overlaps the region best
 * (intersection over union). A decoder draws soft, slightly rounded shapes, which a bounding-box fill ratio reads as
 * circles; the overlap with each template still tells them apart.
 */
function bestTemplate(region: Region, size: number): string {
  let best = "none";
  let bestIou = -1;
  for (const s of SHAPES) {
    const R = Math.sqrt(region.count / AREA[s]);
    const oy = s === "triangle" ? 0.2 * R : 0;
    let inter = 0;
    let tpl = 0;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inT = inside(s, x + 0.5 - (region.cx + 0.5), y + 0.5 - (region.cy + 0.5 - oy), R);
        if (!inT) continue;
        tpl++;
        if (region.mask[y * size + x]) inter++;
      }
    const iou = inter / (tpl + region.count - inter);
    if (iou > bestIou) [best, bestIou] = [s, iou];
  }
  return best;
}

function largestRegion(f: Uint8Array, size: number, fg: number[], bg: number[]): Region {
  const inShape = new Uint8Array(size * size);
  for (let p = 0; p < size * size; p++) {
    const i = p * 3;
    const r = f[i] as number;
    const g = f[i + 1] as number;
    const b = f[i + 2] as number;
    const dFg = (r - (fg[0] as number)) ** 2 + (g - (fg[1] as number)) ** 2 + (b - (fg[2] as number)) ** 2;
    const dBg = (r - (bg[0] as number)) ** 2 + (g - (bg[1] as number)) ** 2 + (b - (bg[2] as number)) ** 2;
    if (dFg < dBg) inShape[p] = 1;
  }
  const seen = new Uint8Array(size * size);
  const stack: number[] = [];
  let best: Region = { count: 0, cx: 0, cy: 0, mask: new Uint8Array(0) };
  for (let start = 0; start < size * size; start++) {
    if (!inShape[start] || seen[start]) continue;
    let count = 0;
    let sx = 0;
    let sy = 0;
    const mask = new Uint8Array(size * size);
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() as number;
      const x = p % size;
      const y = (p - x) / size;
      count++;
      sx += x;
      sy += y;
      mask[p] = 1;
      for (const q of [x > 0 ? p - 1 : -1, x < size - 1 ? p + 1 : -1, y > 0 ? p - size : -1, y < size - 1 ? p + size : -1])
        if (q >= 0 && inShape[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
    }
    if (count > best.count) best = { count, cx: sx / count, cy: sy / count, mask };
  }
  return best;
}
