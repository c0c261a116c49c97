// Measures how often the default diffusion model's clips show what their
// prompt asks for: colour, shape, direction and background, read back by the
// procedural classifier in lib/diffusion-classifier.ts from the frames the
// pipeline runner decodes (exactly what a provider would encode).
//
//   pnpm exec node scripts/diffusion-accuracy.ts [--pipeline models/diffusion-default/pipeline.json] [--clips 120] [--steps N] [--guidance G] [--json out.json]
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

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

const { loadPipeline, PipelineRunner, Xoshiro128 } = await import("../packages/shared/src/model/index.ts");
const { caption, classifyClip, COLOURS, DIRECTIONS, SHAPES } = await import("./lib/diffusion-classifier.ts");

const { values } = parseArgs({
  options: {
    pipeline: { type: "string", default: "models/diffusion-default/pipeline.json" },
    clips: { type: "string", default: "120" },
    steps: { type: "string" },
    guidance: { type: "string" },
    json: { type: "string" },
    threads: { type: "string", default: "1" },
  },
});
const clips = Number(values.clips);
const pipeline = await loadPipeline(values.pipeline);
const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: Number(values.threads), logger: { info() {}, warn() {} } });
const rng = new Xoshiro128(2026);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.next() * xs.length)] as T;
const hits = { colour: 0, shape: 0, direction: 0, background: 0, all: 0 };
const rows: unknown[] = [];
const started = performance.now();
for (let i = 0; i < clips; i++) {
  const colour = pick(COLOURS);
  const background = pick(COLOURS.filter((c) => c !== colour));
  const want = { colour, shape: pick(SHAPES), direction: pick(DIRECTIONS), background };
  const gen = await runner.generate({
    prompt: caption(want),
    seed: Math.floor(rng.next() * 2 ** 31),
    segment: i % 4,
    steps: values.steps ? Number(values.steps) : undefined,
    guidance: values.guidance ? Number(values.guidance) : undefined,
  });
  const got = classifyClip(gen.frames, pipeline.manifest.video.width);
  let all = true;
  for (const k of ["colour", "shape", "direction", "background"] as const) {
    if (got[k] === want[k]) hits[k]++;
    else all = false;
  }
  if (all) hits.all++;
  rows.push({ prompt: caption(want), got });
}
const seconds = (performance.now() - started) / 1000;
await runner.close();
const rate = (n: number) => Number((n / clips).toFixed(3));
const report = {
  pipeline: pipeline.manifest.id,
  clips,
  steps: values.steps ? Number(values.steps) : pipeline.manifest.sampling.steps.default,
  guidance: values.guidance ? Number(values.guidance) : pipeline.manifest.sampling.guidance.default,
  accuracy: {
    colour: rate(hits.colour),
    shape: rate(hits.shape),
    direction: rate(hits.direction),
    background: rate(hits.background),
    all: rate(hits.all),
  },
  chance: { colour: 1 / 5, shape: 1 / 3, direction: 1 / 4, background: 1 / 6, all: 1 / 360 },
  secondsPerClip: Number((seconds / clips).toFixed(3)),
};
console.log(JSON.stringify(report, null, 2));
if (values.json) writeFileSync(values.json, JSON.stringify({ ...report, rows }, null, 2) + "\n");
