// Calibrates a diffusion pipeline's per-step tolerances on your hardware and
// writes them, with the calibration they came from, into its manifest.
//
// It renders segments on the candidate device (e.g. your GPU) exactly as a
// provider does, then re-executes every step's denoiser and the text encoder
// on the reference device (the CPU, what clients verify on) from the
// committed inputs, and decodes the final latent on the reference too. The
// tolerance is the largest honest error seen times --margin; the tile floor
// is the lowest honest tile PSNR minus --psnr-margin dB (per pixel, and in
// block means of one latent pixel: tileBlockPsnrDb). The pipeline id
// changes with the manifest: propose the new id to the DAO (docs/models.md).
//
//   pnpm exec node scripts/calibrate-pipeline.ts --pipeline path/to/pipeline.json \
//     [--device cuda] [--reference cpu] [--segments 8] [--margin 3] [--psnr-margin 3] [--write]
import { registerHooks } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
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

const { loadPipeline, PipelineRunner, relL2, lumaPsnr, blockLumaPsnr, framesToRgb24, withPipelineId, Xoshiro128 } =
  await import("../packages/shared/src/model/index.ts");
const { encodeSegment, decodeSegment } = await import("../packages/shared/src/media/index.ts");

const { values } = parseArgs({
  options: {
    pipeline: { type: "string" },
    device: { type: "string", default: "auto" },
    reference: { type: "string", default: "cpu" },
    segments: { type: "string", default: "8" },
    margin: { type: "string", default: "3" },
    "psnr-margin": { type: "string", default: "3" },
    prompts: { type: "string", default: "a red circle moving left on a blue background|a white square moving up on a black background" },
    write: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.pipeline) {
  console.error(
    "usage: node scripts/calibrate-pipeline.ts --pipeline PIPELINE.json [--device cuda|cpu|auto] [--reference cpu] [--segments N] [--margin X] [--psnr-margin DB] [--prompts 'a|b'] [--write] [--json]",
  );
  process.exit(values.help ? 0 : 2);
}
const devices = ["cpu", "cuda", "auto"] as const;
type Dev = (typeof devices)[number];
if (!devices.includes(values.device as Dev) || !devices.includes(values.reference as Dev)) {
  console.error("--device and --reference take cpu, cuda or auto");
  process.exit(2);
}
const pipeline = await loadPipeline(values.pipeline);
const m = pipeline.manifest;
const log = { info() {}, warn: (...args: unknown[]) => console.error(...args) };
const candidate = await PipelineRunner.create({ pipeline, device: values.device as Dev, logger: log });
const reference = await PipelineRunner.create({ pipeline, device: values.reference as Dev, threads: 1, logger: log });
const prompts = values.prompts.split("|");
const rng = new Xoshiro128(7);
let maxDen = 0;
let maxText = 0;
let minTile = Infinity;
let minBlock = Infinity;
const n = Number(values.segments);
for (let s = 0; s < n; s++) {
  const job = { prompt: prompts[s % prompts.length] as string, seed: Math.floor(rng.next() * 2 ** 31), segment: s };
  const gen = await candidate.generate(job);
  const { trace } = gen;
  const textDims = trace.text.dims;
  const cond = await reference.encodeText(job.prompt);
  maxText = Math.max(maxText, relL2(trace.text.cond, cond.data));
  if (trace.text.uncond)
    maxText = Math.max(maxText, relL2(trace.text.uncond, (await reference.encodeText(m.sampling.guidance.negativePrompt)).data));
  for (const step of trace.steps) {
    const out = await reference.denoise(
      { data: step.latent, dims: trace.latentDims },
      step.t,
      { data: trace.text.cond, dims: textDims },
      trace.text.uncond ? { data: trace.text.uncond, dims: textDims } : undefined,
    );
    maxDen = Math.max(maxDen, relL2(step.cond, out.cond));
    if (step.uncond && out.uncond) maxDen = Math.max(maxDen, relL2(step.uncond, out.uncond));
  }
  const delivered = await decodeSegment(
    await encodeSegment(gen.frames, { width: m.video.width, height: m.video.height, fps: m.video.fps }),
  );
  const per = m.decode.latentFramesPerTile;
  const latentFrames = trace.latentDims[2] as number;
  for (let from = 0, frame = 0; from < latentFrames; from += per) {
    const tile = framesToRgb24(
      await reference.decodeTile({ data: trace.final, dims: trace.latentDims }, from, Math.min(per, latentFrames - from)),
      m.components.decoder.outputRange,
      m.video.width,
      m.video.height,
    );
    for (const f of tile) {
      const d = delivered[frame++] as Uint8Array;
      minTile = Math.min(minTile, lumaPsnr(f, d));
      minBlock = Math.min(minBlock, blockLumaPsnr(f, d, m.video.width, m.video.height, m.latent.spatialCompression));
    }
  }
  console.error(
    `segment ${s + 1}/${n}: max denoiser relL2 ${maxDen.toExponential(2)}, text ${maxText.toExponential(2)}, min tile ${minTile.toFixed(1)} dB`,
  );
}
await candidate.close();
await reference.close();

const margin = Number(values.margin);
// A floor keeps a bit-exact calibration (CPU against CPU) from giving a zero tolerance no other machine could meet.
const tolerances = {
  denoiserRelL2: Number(Math.max(maxDen * margin, 1e-4).toPrecision(2)),
  textRelL2: Number(Math.max(maxText * margin, 1e-5).toPrecision(2)),
  tilePsnrDb: Number((minTile - Number(values["psnr-margin"])).toFixed(1)),
  tileBlockPsnrDb: Number((minBlock - Number(values["psnr-margin"])).toFixed(1)),
};
const run = {
  reference: `${values.reference} (${reference.device})`,
  candidate: `${values.device} (${candidate.device})`,
  steps: m.sampling.steps.default,
  maxDenoiserRelL2: maxDen,
  maxTextRelL2: maxText,
  minTilePsnrDb: Number(minTile.toFixed(2)),
  minTileBlockPsnrDb: Number(minBlock.toFixed(2)),
};
const raw = JSON.parse(readFileSync(values.pipeline, "utf8"));
raw.verification = {
  ...raw.verification,
  tolerances,
  calibration: {
    source: `scripts/calibrate-pipeline.ts --segments ${n} --margin ${margin}: every step of each segment re-executed on the reference from the candidate's committed inputs`,
    date: new Date().toISOString().slice(0, 10),
    runs: [...(raw.verification?.calibration?.runs ?? []).filter((r: { candidate: string }) => r.candidate !== run.candidate), run],
  },
};
delete raw.id;
const id = withPipelineId(raw).id;
if (values.write) writeFileSync(values.pipeline, JSON.stringify(raw, null, 2) + "\n");
const report = { pipeline: values.pipeline, previousId: m.id, id, tolerances, run, written: values.write };
console.log(values.json ? JSON.stringify(report) : JSON.stringify(report, null, 2));
