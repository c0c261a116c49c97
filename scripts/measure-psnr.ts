// Measures the PSNR a client sees when it spot-checks a segment: a frame it
// re-renders itself (batch of one, CPU) against the frame decoded from the
// provider's H.264 segment. "honest" segments are rendered and encoded as a
// provider does; the other classes are wrong output a cheating or broken
// provider could deliver. Prints each class's distribution and the
// threshold that separates them, so the client's threshold comes from data.
//
//   pnpm exec node scripts/measure-psnr.ts [--quick] [--json out.json]
//
// Imports the workspace sources directly: Node strips the types, and the
// hook below maps their `./x.js` imports to the `.ts` files.
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

const { createRenderer, defaultModel, psnr, Xoshiro128 } = await import("../packages/shared/src/model/index.ts");
const { encodeSegment, decodeSegment } = await import("../packages/shared/src/media/index.ts");
type Spec = { prompt: string; seed: number; fps: number; width: number; height: number };

const quick = process.argv.includes("--quick");
const jsonIndex = process.argv.indexOf("--json");
const jsonOut = jsonIndex > 0 ? process.argv[jsonIndex + 1] : undefined;

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
const SIZES = quick ? [64, 128] : [64, 128, 192, 256];
const FPS = [12, 24];
const SAMPLES = quick ? 12 : 40;

const silent = { info() {}, warn() {}, debug() {} };
const model = defaultModel();
const renderer = await createRenderer({ model, device: "cpu", logger: silent });
const client = await createRenderer({ model, device: "cpu", logger: silent, batchSize: 1 });

async function render(r: typeof renderer, spec: Spec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of r.renderFrames({ spec, firstFrame, frameCount })) frames.push(f);
  return frames;
}

/** Renders at half size and scales back up bilinearly: a provider saving 3/4 of the work. */
async function halfResolution(spec: Spec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const small = { ...spec, width: spec.width / 2, height: spec.height / 2 };
  const frames = await render(renderer, small, firstFrame, frameCount);
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

const CLASS_NAMES = ["honest", "other prompt", "other seed", "other second (t ± 1 s)", "half resolution, upscaled", "neighbour frame (t ± 1 frame)"] as const;
/** RGB PSNR over whole frames (`psnr`), and luma (BT.709 Y′) PSNR for clients that compare luma only. */
const classes: Record<string, number[]> = Object.fromEntries(CLASS_NAMES.map((n) => [n, []]));
const lumaClasses: Record<string, number[]> = Object.fromEntries(CLASS_NAMES.map((n) => [n, []]));

const pairs: { class: string; prompt: string; seed: number; size: number; fps: number; frame: number; rgb: number; luma: number }[] = [];

function luma(rgb: Uint8Array): Uint8Array {
  const y = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < y.length; i++) y[i] = Math.round(0.2126 * (rgb[3 * i] as number) + 0.7152 * (rgb[3 * i + 1] as number) + 0.0722 * (rgb[3 * i + 2] as number));
  return y;
}

const rng = new Xoshiro128(20261122);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)] as T;
const started = performance.now();
for (let s = 0; s < SAMPLES; s++) {
  const size = pick(SIZES);
  const fps = pick(FPS);
  const spec: Spec = { prompt: pick(PROMPTS), seed: Math.floor(rng.next() * 1000), fps, width: size, height: size };
  const segment = 1 + Math.floor(rng.next() * 20);
  const first = segment * fps;
  const encodeDecode = async (frames: Uint8Array[]) => decodeSegment(await encodeSegment(frames, spec), spec);

  // What the provider delivers, honest and not.
  const delivered = {
    honest: await encodeDecode(await render(renderer, spec, first, fps)),
    "other prompt": await encodeDecode(await render(renderer, { ...spec, prompt: pick(PROMPTS.filter((p) => p !== spec.prompt)) }, first, fps)),
    "other seed": await encodeDecode(await render(renderer, { ...spec, seed: spec.seed + 1 + Math.floor(rng.next() * 1000) }, first, fps)),
    "other second (t ± 1 s)": await encodeDecode(await render(renderer, spec, first + (rng.next() < 0.5 ? -fps : fps), fps)),
    "half resolution, upscaled": await encodeDecode(await halfResolution(spec, first, fps)),
    "neighbour frame (t ± 1 frame)": await encodeDecode(await render(renderer, spec, first + 1, fps)),
  };
  // The client re-renders 3 frames it picks after delivery, one at a time.
  for (let k = 0; k < 3; k++) {
    const index = Math.floor(rng.next() * fps);
    const [reference] = await render(client, spec, first + index, 1);
    for (const [name, frames] of Object.entries(delivered)) {
      const rgb = psnr(reference as Uint8Array, frames[index] as Uint8Array);
      const y = psnr(luma(reference as Uint8Array), luma(frames[index] as Uint8Array));
      classes[name]?.push(rgb);
      lumaClasses[name]?.push(y);
      pairs.push({ class: name, prompt: spec.prompt, seed: spec.seed, size, fps, frame: first + index, rgb, luma: y });
    }
  }
  process.stderr.write(`\r${s + 1}/${SAMPLES} samples (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
process.stderr.write("\n");
await renderer.close();
await client.close();

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] as number;
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "inf").padStart(7);
const WRONG = ["other prompt", "other seed", "other second (t ± 1 s)"];

function report(title: string, data: Record<string, number[]>): Record<string, Record<string, number>> {
  console.log(`\n${title}; sizes ${SIZES.join("/")}, fps ${FPS.join("/")}, ${SAMPLES} segments x 3 frames\n`);
  console.log(`${"class".padEnd(32)}${"n".padStart(5)}${"min".padStart(8)}${"p1".padStart(8)}${"p5".padStart(8)}${"median".padStart(8)}${"p95".padStart(8)}${"p99".padStart(8)}${"max".padStart(8)}`);
  const summary: Record<string, Record<string, number>> = {};
  for (const [name, values] of Object.entries(data)) {
    const sorted = [...values].sort((a, b) => a - b);
    const row = { n: sorted.length, min: sorted[0] as number, p1: quantile(sorted, 0.01), p5: quantile(sorted, 0.05), median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] as number };
    summary[name] = row;
    console.log(`${name.padEnd(32)}${String(row.n).padStart(5)}${fmt(row.min).padStart(8)}${fmt(row.p1).padStart(8)}${fmt(row.p5).padStart(8)}${fmt(row.median).padStart(8)}${fmt(row.p95).padStart(8)}${fmt(row.p99).padStart(8)}${fmt(row.max).padStart(8)}`);
  }
  const honestMin = summary.honest?.min ?? 0;
  console.log(`\nhonest min ${honestMin.toFixed(2)} dB; wrong prompt/seed max ${Math.max(...WRONG.slice(0, 2).map((n) => summary[n]?.max ?? 0)).toFixed(2)} dB; wrong second max ${(summary[WRONG[2] as string]?.max ?? 0).toFixed(2)} dB`);
  const rate = (name: string, pass: (v: number) => boolean) => (((data[name] ?? []).filter(pass).length / (data[name]?.length || 1)) * 100).toFixed(1);
  for (const threshold of [25, 28, 30, 32, 34]) {
    const accepted = (name: string) => rate(name, (v) => v >= threshold);
    console.log(
      `threshold ${threshold} dB: honest rejected ${rate("honest", (v) => v < threshold)}%; accepted: prompt ${accepted("other prompt")}%, seed ${accepted("other seed")}%, second ${accepted("other second (t ± 1 s)")}%, half-res ${accepted("half resolution, upscaled")}%, neighbour frame ${accepted("neighbour frame (t ± 1 frame)")}%`,
    );
  }
  return summary;
}

const fooledBy = (name: string, threshold: number) => [...new Set(pairs.filter((p) => p.class === name && p.rgb >= threshold).map((p) => p.prompt))];
const rgbSummary = report("RGB PSNR (dB) of the client's re-rendered frame vs the decoded frame", classes);
const lumaSummary = report("Luma (BT.709 Y') PSNR (dB) of the same pairs", lumaClasses);
console.log(`\nprompts of "other second" pairs at or above 30 dB RGB: ${JSON.stringify(fooledBy("other second (t ± 1 s)", 30))}`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ sizes: SIZES, fps: FPS, samples: SAMPLES, rgb: rgbSummary, luma: lumaSummary, pairs }, null, 2)}\n`);
