// Measures the PSNR the client's spot-check sees, exactly as the verifier
// computes it: k random frames per segment, a random 1/8 of each frame's
// pixels (at least 256) re-rendered with the client's pixel renderer and
// compared with the frame decoded from the provider's H.264 segment.
// "honest" segments are rendered and encoded as a provider does; the other
// classes are wrong output a cheating or broken provider could deliver.
// Prints per-frame and per-segment distributions and, for a range of
// thresholds, the false-rejection rate of honest segments and the
// acceptance rate of each wrong class, in RGB and in luma (BT.709 Y'). See
// packages/shared/src/verify/README.md. (The one PSNR study of the repo: it
// replaced scripts/measure-psnr.ts, whose half-resolution class it kept.)
//
//   pnpm exec node --conditions=@rendermesh/source scripts/psnr-study.ts [--quick] [--segments N] [--json out.json]
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (specifier.startsWith(".") && specifier.endsWith(".js")) return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      throw err;
    }
  },
});

const { createRenderer, createSpotRenderer, defaultModel, Xoshiro128 } = await import("../packages/shared/src/model/index.ts");
const { encodeSegment, decodeSegment, runFfmpeg } = await import("../packages/shared/src/media/index.ts");
const { sampleDistinct, psnr8, gatherPixels } = await import("../packages/shared/src/verify/sampling.ts");
const { DEFAULT_MIN_PIXELS, DEFAULT_PIXEL_FRACTION, DEFAULT_SAMPLED_FRAMES } = await import("../packages/shared/src/verify/constants.ts");

type Spec = { v: 1; model: `0x${string}`; prompt: string; seed: number; seconds: number; fps: number; width: number; height: number };

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SEGMENTS = Number(arg("--segments") ?? (process.argv.includes("--quick") ? 12 : 120));
const jsonOut = arg("--json");

const PROMPTS = [
  "a calm blue sea at night",
  "a fast red storm over the desert",
  "spinning purple galaxy",
  "a still white room",
  "rapid neon city lights",
  "soft pastel pink clouds drifting",
  "green forest in the morning",
  "a cat sitting on a mat",
  "golden sunset over rolling hills",
  "chaotic black and orange fire",
  "misty grey mountains",
  "a slow teal river flowing",
  "explosive yellow fireworks",
  "an old library full of books",
  "turbulent cyan ocean waves",
  "a quiet brown field",
];
const SIZES: Array<[number, number]> = [
  [32, 32],
  [64, 64],
  [128, 128],
  [192, 192],
  [96, 64],
];
const FPS = [4, 12, 24];

const silent = { info() {}, warn() {}, debug() {} };
const model = defaultModel();
const renderer = await createRenderer({ model, device: "cpu", logger: silent });
const spot = await createSpotRenderer({ models: [model] });

async function render(spec: Spec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of renderer.renderFrames({ spec, firstFrame, frameCount })) frames.push(f);
  return frames;
}

const rng = new Xoshiro128(20261122);
const random = (n: number) => Math.floor(rng.next() * n);
const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)] as T;

/** Re-encodes frames at a low quality (CRF 40): a provider saving bandwidth at the cost of the picture. */
async function lowQuality(frames: Uint8Array[], spec: Spec): Promise<Uint8Array[]> {
  const { mkdtempSync, rmSync, readFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "rm-psnr-"));
  try {
    const out = join(dir, "low.mp4");
    await runFfmpeg(
      [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-video_size",
        `${spec.width}x${spec.height}`,
        "-framerate",
        String(spec.fps),
        "-i",
        "pipe:0",
        "-c:v",
        "libx264",
        "-crf",
        "40",
        "-pix_fmt",
        "yuv420p",
        "-y",
        out,
      ],
      {
        what: "encode low quality",
        input: async (stdin) => {
          for (const f of frames) stdin.write(f);
          stdin.end();
        },
      },
    );
    return decodeSegment(new Uint8Array(readFileSync(out)), spec);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Renders at half size and scales back up bilinearly: a provider saving 3/4 of the work. */
async function halfResolution(spec: Spec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const small = { ...spec, width: spec.width / 2, height: spec.height / 2 };
  const frames = await render(small, firstFrame, frameCount);
  return frames.map((f) => upscale2x(f, small.width, small.height));
}

function upscale2x(src: Uint8Array, w: number, h: number): Uint8Array {
  const W = w * 2;
  const H = h * 2;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.min(w - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => src[(yy * w + xx) * 3 + c] as number;
        const v = (1 - fy) * ((1 - fx) * p(y0, x0) + fx * p(y0, x1)) + fy * ((1 - fx) * p(y1, x0) + fx * p(y1, x1));
        out[(y * W + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return out;
}

const classes = [
  "honest",
  "other prompt",
  "other seed",
  "other second",
  "neighbour frame",
  "half resolution, upscaled",
  "low quality (CRF 40)",
  "noise ±12",
  "red/blue swapped",
] as const;
type Cls = (typeof classes)[number];
const frameValues: Record<Cls, number[]> = Object.fromEntries(classes.map((c) => [c, []])) as unknown as Record<Cls, number[]>;
const segmentMins: Record<Cls, number[]> = Object.fromEntries(classes.map((c) => [c, []])) as unknown as Record<Cls, number[]>;
/** Full-frame PSNR of every honest frame (not just sampled ones): the honest tail at the frame level. */
const honestAllFrames: number[] = [];
const bySize: Record<string, number> = {};
const bySizeY: Record<string, number> = {};
const worstHonest = { psnr: Infinity, y: Infinity, spec: "" };
/** BT.709 luma of each RGB24 pixel (what H.264 keeps at full resolution). */
function luma(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.2126 * rgb[3 * i]! + 0.7152 * rgb[3 * i + 1]! + 0.0722 * rgb[3 * i + 2]!);
  return out;
}
const frameValuesY: Record<string, number[]> = {};
/** Per wrong class and segment: whether its frames differ materially (luma PSNR < 30 dB somewhere) from the truth. */
const material: Record<string, boolean[]> = {};
const segmentMinsY: Record<string, number[]> = {};

const started = performance.now();
let renderMs = 0;
let spotMs = 0;
for (let s = 0; s < SEGMENTS; s++) {
  const [width, height] = pick(SIZES);
  const fps = pick(FPS);
  const spec: Spec = {
    v: 1,
    model: model.manifest.id as `0x${string}`,
    prompt: pick(PROMPTS),
    seed: random(1_000_000),
    seconds: 30,
    fps,
    width,
    height,
  };
  const segment = random(30);
  const first = segment * fps;
  const encodeDecode = async (frames: Uint8Array[]) => decodeSegment(await encodeSegment(frames, spec), spec);
  const t0 = performance.now();
  const honestFrames = await render(spec, first, fps);
  renderMs += performance.now() - t0;
  const raw: Record<Exclude<Cls, "low quality (CRF 40)">, Uint8Array[]> = {
    honest: honestFrames,
    "other prompt": await render({ ...spec, prompt: pick(PROMPTS.filter((p) => p !== spec.prompt)) }, first, fps),
    "other seed": await render({ ...spec, seed: spec.seed + 1 + random(1000) }, first, fps),
    "other second": await render(spec, segment === 0 ? first + fps : first - fps, fps),
    "neighbour frame": await render(spec, first + 1, fps),
    "half resolution, upscaled": await halfResolution(spec, first, fps),
    "noise ±12": honestFrames.map((f) => f.map((v) => Math.max(0, Math.min(255, v + random(25) - 12)))),
    "red/blue swapped": honestFrames.map((f) => f.map((_, i) => f[i - (i % 3) + (2 - (i % 3))]!)),
  };
  const delivered = {} as Record<Cls, Uint8Array[]>;
  for (const [c, frames] of Object.entries(raw)) delivered[c as Cls] = await encodeDecode(frames);
  delivered["low quality (CRF 40)"] = await lowQuality(honestFrames, spec);
  // How different each wrong class really is before encoding: its lowest luma PSNR against the true frames.
  // A "wrong" segment within 30 dB of the truth in every frame looks like the right video (a still prompt one
  // second later, say): no content check can tell, and none needs to.
  const { psnr: fullPsnr } = await import("../packages/shared/src/model/psnr.ts");
  for (const [c, frames] of Object.entries(raw)) {
    if (c === "honest") continue;
    const worst = Math.min(...frames.map((fr, i) => fullPsnr(luma(honestFrames[i]!), luma(fr))));
    (material[c] ??= []).push(worst < 30);
  }
  (material["low quality (CRF 40)"] ??= []).push(true);
  for (let i = 0; i < fps; i++) {
    const { psnr } = await import("../packages/shared/src/model/psnr.ts");
    const v = psnr(honestFrames[i]!, delivered.honest[i]!);
    honestAllFrames.push(v);
    const key = `${width}x${height}`;
    bySize[key] = Math.min(bySize[key] ?? Infinity, v);
    const yv = psnr(luma(honestFrames[i]!), luma(delivered.honest[i]!));
    bySizeY[key] = Math.min(bySizeY[key] ?? Infinity, yv);
    if (v < worstHonest.psnr)
      Object.assign(worstHonest, { psnr: v, y: yv, spec: `${spec.prompt} seed ${spec.seed} ${width}x${height}@${fps} frame ${first + i}` });
  }
  const pixelsPerFrame = width * height;
  const k = Math.min(pixelsPerFrame, Math.max(DEFAULT_MIN_PIXELS, Math.ceil(pixelsPerFrame * DEFAULT_PIXEL_FRACTION)));
  const sampled = sampleDistinct(fps, DEFAULT_SAMPLED_FRAMES, random);
  const mins: Record<string, number> = {};
  const minsY: Record<string, number> = {};
  for (const index of sampled) {
    const pixels = Uint32Array.from(sampleDistinct(pixelsPerFrame, k, random));
    const t1 = performance.now();
    const expected = await spot.renderPixels(spec, first + index, pixels);
    spotMs += performance.now() - t1;
    for (const c of classes) {
      const got = gatherPixels(delivered[c][index]!, pixels);
      const v = psnr8(expected, got);
      frameValues[c].push(v);
      mins[c] = Math.min(mins[c] ?? Infinity, v);
      const yv = psnr8(luma(expected), luma(got));
      (frameValuesY[c] ??= []).push(yv);
      minsY[c] = Math.min(minsY[c] ?? Infinity, yv);
    }
  }
  for (const c of classes) segmentMins[c].push(mins[c]!);
  for (const c of classes) (segmentMinsY[c] ??= []).push(minsY[c]!);
  process.stderr.write(`\r${s + 1}/${SEGMENTS} segments (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
process.stderr.write("\n");
await renderer.close();
await spot.close();

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] as number;
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "inf").padStart(8);
const table = (title: string, data: Record<string, number[]>) => {
  console.log(`\n${title}`);
  console.log(
    `${"class".padEnd(24)}${"n".padStart(6)}${"min".padStart(8)}${"p0.1".padStart(8)}${"p1".padStart(8)}${"median".padStart(8)}${"p99".padStart(8)}${"max".padStart(8)}`,
  );
  const out: Record<string, Record<string, number>> = {};
  for (const [name, values] of Object.entries(data)) {
    const s = [...values].sort((a, b) => a - b);
    const row = { n: s.length, min: s[0]!, p0_1: q(s, 0.001), p1: q(s, 0.01), median: q(s, 0.5), p99: q(s, 0.99), max: s[s.length - 1]! };
    out[name] = row;
    console.log(
      `${name.padEnd(24)}${String(row.n).padStart(6)}${f(row.min)}${f(row.p0_1)}${f(row.p1)}${f(row.median)}${f(row.p99)}${f(row.max)}`,
    );
  }
  return out;
};
console.log(
  `sizes ${SIZES.map(([w, h]) => `${w}x${h}`).join(", ")}; fps ${FPS.join("/")}; ${SEGMENTS} segments; ${DEFAULT_SAMPLED_FRAMES} frames x max(${DEFAULT_MIN_PIXELS}, 1/${1 / DEFAULT_PIXEL_FRACTION} of pixels) per segment`,
);
const perFrame = table("PSNR (dB) of one sampled frame (pixel subset)", frameValues);
const perSegment = table("Lowest PSNR (dB) over a segment's sampled frames (what the verifier compares)", segmentMins);
const fullFrames = table("Full-frame PSNR (dB) of every honest frame", { honest: honestAllFrames });
const perSegmentY = table("Luma (BT.709 Y) PSNR: lowest over a segment's sampled frames", segmentMinsY);
table("Luma PSNR of one sampled frame", frameValuesY);
console.log("\nworst honest full frame:", worstHonest);
console.log("honest full-frame min by size (RGB):", bySize);
console.log("honest full-frame min by size (Y):", bySizeY);
const thresholds = [24, 26, 28, 30, 32, 33, 34, 36];
console.log("\nper segment: honest rejected / wrong accepted");
const rates: Record<number, Record<string, number>> = {};
for (const t of thresholds) {
  const r: Record<string, number> = {};
  for (const c of classes) {
    const v = segmentMins[c];
    r[c] = (c === "honest" ? v.filter((x) => x < t).length : v.filter((x) => x >= t).length) / v.length;
  }
  rates[t] = r;
  console.log(
    `${String(t).padStart(3)} dB: ${classes.map((c) => `${c === "honest" ? "honest rejected" : c} ${(r[c]! * 100).toFixed(1)}%`).join(", ")}`,
  );
}
console.log("\nper segment, luma: honest rejected / wrong accepted");
const ratesY: Record<number, Record<string, number>> = {};
for (const t of thresholds) {
  const r: Record<string, number> = {};
  for (const c of classes) {
    const v = segmentMinsY[c]!;
    r[c] = (c === "honest" ? v.filter((x) => x < t).length : v.filter((x) => x >= t).length) / v.length;
  }
  ratesY[t] = r;
  console.log(
    `${String(t).padStart(3)} dB: ${classes.map((c) => `${c === "honest" ? "honest rejected" : c} ${(r[c]! * 100).toFixed(1)}%`).join(", ")}`,
  );
}
console.log("\nper segment, luma, wrong classes counting only materially different segments (raw luma PSNR < 30 dB in some frame)");
const ratesMaterial: Record<number, Record<string, number | string>> = {};
for (const t of thresholds) {
  const r: Record<string, number | string> = {};
  for (const c of classes) {
    if (c === "honest") continue;
    const v = segmentMinsY[c]!.filter((_, i) => material[c]![i]);
    r[c] = v.length === 0 ? "n/a" : v.filter((x) => x >= t).length / v.length;
  }
  ratesMaterial[t] = r;
  console.log(
    `${String(t).padStart(3)} dB: ${Object.entries(r)
      .map(([c, x]) => `${c} ${typeof x === "number" ? (x * 100).toFixed(1) + "%" : x} of ${material[c]!.filter(Boolean).length}`)
      .join(", ")}`,
  );
}
console.log(
  `\nclient spot render: ${spotMs.toFixed(0)} ms vs provider render of the honest segments ${renderMs.toFixed(0)} ms (${((100 * spotMs) / renderMs).toFixed(2)}%)`,
);
if (jsonOut)
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ segments: SEGMENTS, raw: { segmentMins, segmentMinsY, material, honestAllFrames }, perFrame, perSegment, perSegmentY, fullFrames, rates, ratesY, ratesMaterial, bySize, bySizeY, worstHonest }, null, 2)}\n`,
  );
