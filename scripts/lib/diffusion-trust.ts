// The trust study of verification by committed steps: renders segments with
// the default diffusion pipeline as an honest provider does (several thread
// counts and guidance batch sizes, H.264 like the provider), and as a
// cheating provider could (wrong prompt, wrong seed, another model, fewer
// steps, skipped steps, int8 weights, a cheaper decoder, a low-quality
// re-encode), each cheat claiming the right job in its trace root. Then it
// verifies each one exactly as a client does and counts what is accepted.
// Used by scripts/diffusion-trust-study.ts (full run) and
// scripts/bench/diffusion-trust.ts (`pnpm bench`, a short run).
import { registerHooks } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

const shared = await import("../../packages/shared/src/model/index.ts");
const media = await import("../../packages/shared/src/media/index.ts");
const { caption, COLOURS, DIRECTIONS, SHAPES } = await import("./diffusion-classifier.ts");
const {
  loadPipeline,
  PipelineRunner,
  segmentNoise,
  createScheduler,
  guide,
  encodeTrace,
  publishTrace,
  MemoryTraceStore,
  verifyTrace,
  quantiseWeights,
  mapFloatInitializers,
  Xoshiro128,
} = shared;
type Pipeline = Awaited<ReturnType<typeof loadPipeline>>;
type Runner = Awaited<ReturnType<typeof PipelineRunner.create>>;
type Generation = Awaited<ReturnType<Runner["generate"]>>;

const NEW_HONEST = `honest, new provider (k = ${shared.NEW_PROVIDER_STEPS})`;
const NEW_SKIP = `skipped steps (reused + noise), new provider (k = ${shared.NEW_PROVIDER_STEPS})`;
const HONEST = ["honest, 1 thread, CFG batch 2", "honest, 2 threads, CFG batch 1", "honest, 2 threads, CFG batch 2", NEW_HONEST] as const;
const CHEATS = [
  "wrong prompt",
  "wrong seed",
  "another model",
  "fewer steps (half)",
  "skipped steps (every other reused)",
  "skipped steps (reused + tiny noise)",
  "skipped steps (reused + noise above the neighbour floor)",
  NEW_SKIP,
  "int8-quantised weights",
  "cheaper decoder (4-bit weights)",
  "low-quality re-encode (CRF 40)",
] as const;

interface ClassResult {
  n: number;
  accepted: number;
  /** How many each check refused. */
  refusedBy: Record<string, number>;
  maxDenoiserRelL2: number;
  minDenoiserRelL2: number;
  maxTextRelL2: number;
  minTilePsnrDb: number;
  /** …and in means of blocks of one latent pixel. */
  minTileBlockPsnrDb: number;
  /** Smallest relative difference between a sampled step's output and a neighbour's. */
  minNeighbourRelL2: number;
}

export interface TrustStudyResult {
  pipeline: string;
  k: number;
  steps: number;
  segments: number;
  classes: Record<string, ClassResult>;
  falseAccept: number;
  falseReject: number;
  /** Client verification CPU over provider render CPU (medians per segment, honest segments). */
  costRatio: number;
  renderCpuMs: number;
  verifyCpuMs: number;
  /** The same for an honest segment checked as a new provider's (k = NEW_PROVIDER_STEPS). */
  newProviderCostRatio: number;
}

const silent = { info() {}, warn() {} };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Generation with every other step's denoiser output reused from the step
 * before, optionally disguised by relative noise of `disguise` per value
 * (1e-6: below the neighbour floor; 1e-2: about an honest neighbour difference).
 */
async function generateSkipping(
  runner: Runner,
  opts: { prompt: string; seed: number; segment: number },
  disguise = 0,
): Promise<Generation> {
  const m = runner.manifest;
  const steps = m.sampling.steps.default;
  const g = m.sampling.guidance.default;
  const cond = await runner.encodeText(opts.prompt);
  const uncond = await runner.encodeText(m.sampling.guidance.negativePrompt);
  const s = createScheduler(m.scheduler);
  s.setTimesteps(steps);
  const dims = shared.latentShape(m, m.video.width, m.video.height, m.video.framesPerClip);
  let sample = segmentNoise(
    opts.seed,
    opts.segment,
    dims.reduce((a, b) => a * b, 1),
  );
  const rng = new Xoshiro128(opts.seed, 77);
  const trace: Generation["trace"]["steps"] = [];
  let last: { cond: Float32Array; uncond?: Float32Array } | undefined;
  for (const [i, t] of s.timesteps.entries()) {
    let out: { cond: Float32Array; uncond?: Float32Array };
    if (i % 2 === 1 && last) {
      out =
        disguise > 0
          ? {
              cond: last.cond.map((v) => v * (1 + disguise * (rng.next() - 0.5))),
              uncond: (last.uncond as Float32Array).map((v) => v * (1 + disguise * (rng.next() - 0.5))),
            }
          : last;
    } else out = await runner.denoise({ data: sample, dims }, t, cond, uncond);
    last = out;
    trace.push({ t, latent: sample, cond: out.cond, uncond: out.uncond });
    sample = s.step(guide(out.cond, out.uncond as Float32Array, g), t, sample);
  }
  const frames = await runner.decodeFrames({ data: sample, dims }, m.video.width, m.video.height, m.video.framesPerClip);
  return {
    frames,
    trace: {
      pipeline: m.id,
      seed: opts.seed,
      segment: opts.segment,
      guidance: g,
      latentDims: dims,
      text: { dims: cond.dims, cond: cond.data, uncond: uncond.data },
      steps: trace,
      final: sample,
    },
  };
}

async function h264(frames: Uint8Array[], w: number, h: number, fps: number, crf?: number): Promise<Uint8Array[]> {
  if (crf === undefined) return media.decodeSegment(await media.encodeSegment(frames, { width: w, height: h, fps }));
  const dir = mkdtempSync(join(tmpdir(), "rm-trust-"));
  try {
    const out = join(dir, "low.mp4");
    await media.runFfmpeg(
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
        `${w}x${h}`,
        "-framerate",
        String(fps),
        "-i",
        "pipe:0",
        "-c:v",
        "libx264",
        "-crf",
        String(crf),
        "-pix_fmt",
        "yuv420p",
        "-y",
        out,
      ],
      {
        what: "encode low quality",
        input: async (stdin: NodeJS.WritableStream) => {
          for (const f of frames) stdin.write(f);
          stdin.end();
        },
      },
    );
    return media.decodeSegment(new Uint8Array(readFileSync(out)), { width: w, height: h });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runTrustStudy(options: {
  pipelinePath: string;
  perClass: number;
  k?: number;
  seed?: number;
  log?: (line: string) => void;
}): Promise<TrustStudyResult> {
  const log = options.log ?? (() => {});
  const base: Pipeline = await loadPipeline(options.pipelinePath);
  const m = base.manifest;
  const variant = (files: Partial<Pipeline["files"]>): Pipeline => ({ manifest: m, files: { ...base.files, ...files } });
  // Another model: every weight moved by 10% of its tensor's spread, the same shapes and the same claimed id.
  const rngW = new Xoshiro128(4242);
  const perturb = (bytes: Uint8Array) =>
    mapFloatInitializers(bytes, (_n, v) => {
      let max = 0;
      for (const x of v) max = Math.max(max, Math.abs(x));
      return v.map((x) => x + 0.1 * max * (rngW.next() * 2 - 1));
    });
  const open = (p: Pipeline, threads: number, guidanceBatch: 1 | 2) =>
    PipelineRunner.create({ pipeline: p, device: "cpu", threads, guidanceBatch, logger: silent });
  const verifier = await open(base, 1, 2);
  const honest = [await open(base, 1, 2), await open(base, 2, 1), await open(base, 2, 2)];
  const other = await open(variant({ textEncoder: perturb(base.files.textEncoder), denoiser: perturb(base.files.denoiser) }), 1, 2);
  const int8 = await open(variant({ denoiser: quantiseWeights(base.files.denoiser, 255) }), 1, 2);
  const cheapDecoder = await open(variant({ decoder: quantiseWeights(base.files.decoder, 15) }), 1, 2);
  const runners = [verifier, ...honest, other, int8, cheapDecoder];

  const rng = new Xoshiro128(options.seed ?? 20261201);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.next() * xs.length)] as T;
  const randomPrompt = () => {
    const colour = pick(COLOURS);
    return caption({ colour, shape: pick(SHAPES), direction: pick(DIRECTIONS), background: pick(COLOURS.filter((c) => c !== colour)) });
  };
  const { width: W, height: H, fps } = m.video;
  const classes: Record<string, ClassResult> = {};
  const renderCpu: number[] = [];
  const verifyCpu: number[] = [];
  const verifyNewCpu: number[] = [];
  let wrongAccepted = 0;
  let wrongTotal = 0;
  let honestRefused = 0;
  let honestTotal = 0;
  const all = [...HONEST, ...CHEATS];
  try {
    for (let i = 0; i < options.perClass; i++) {
      for (const cls of all) {
        const job = { prompt: randomPrompt(), seed: Math.floor(rng.next() * 2 ** 40), segment: Math.floor(rng.next() * 16) };
        let gen: Generation;
        let frames: Uint8Array[] | undefined;
        const isHonest = (HONEST as readonly string[]).includes(cls);
        const c0 = cpuMs();
        switch (cls) {
          case "wrong prompt": {
            // Another caption: one in 360 random draws is the job's own, which is no cheat.
            let prompt = randomPrompt();
            while (prompt === job.prompt) prompt = randomPrompt();
            gen = await honest[0]!.generate({ ...job, prompt });
            break;
          }
          case "wrong seed":
            gen = await honest[0]!.generate({ ...job, seed: job.seed + 1 });
            gen.trace.seed = job.seed;
            break;
          case "another model":
            gen = await other.generate(job);
            break;
          case "fewer steps (half)":
            gen = await honest[0]!.generate({ ...job, steps: Math.max(m.sampling.steps.min, Math.floor(m.sampling.steps.default / 2)) });
            break;
          case "skipped steps (every other reused)":
            gen = await generateSkipping(honest[0]!, job);
            break;
          case "skipped steps (reused + tiny noise)":
            gen = await generateSkipping(honest[0]!, job, 1e-6);
            break;
          case "skipped steps (reused + noise above the neighbour floor)":
          case NEW_SKIP:
            gen = await generateSkipping(honest[0]!, job, 1e-2);
            break;
          case NEW_HONEST:
            gen = await honest[0]!.generate(job);
            break;
          case "int8-quantised weights":
            gen = await int8.generate(job);
            break;
          case "cheaper decoder (4-bit weights)":
            gen = await cheapDecoder.generate(job);
            break;
          case "low-quality re-encode (CRF 40)":
            gen = await honest[0]!.generate(job);
            frames = await h264(gen.frames, W, H, fps, 40);
            break;
          default:
            gen = await honest[HONEST.indexOf(cls as (typeof HONEST)[number])]!.generate(job);
        }
        const c1 = cpuMs();
        if (cls === HONEST[0]) renderCpu.push(c1 - c0);
        frames ??= await h264(gen.frames, W, H, fps);
        const store = new MemoryTraceStore();
        const root = await publishTrace(await encodeTrace(gen.trace), store);
        const v0 = cpuMs();
        const asNew = cls === NEW_HONEST || cls === NEW_SKIP;
        const verdict = await verifyTrace({ runner: verifier, job, root, store, frames, k: asNew ? shared.NEW_PROVIDER_STEPS : options.k });
        if (cls === HONEST[0]) verifyCpu.push(cpuMs() - v0);
        if (cls === NEW_HONEST) verifyNewCpu.push(cpuMs() - v0);
        const r = (classes[cls] ??= {
          n: 0,
          accepted: 0,
          refusedBy: {},
          maxDenoiserRelL2: 0,
          minDenoiserRelL2: Infinity,
          maxTextRelL2: 0,
          minTilePsnrDb: Infinity,
          minTileBlockPsnrDb: Infinity,
          minNeighbourRelL2: Infinity,
        });
        r.n++;
        if (verdict.ok) r.accepted++;
        else r.refusedBy[verdict.check as string] = (r.refusedBy[verdict.check as string] ?? 0) + 1;
        for (const e of verdict.measured.denoiserRelL2) {
          r.maxDenoiserRelL2 = Math.max(r.maxDenoiserRelL2, e);
          r.minDenoiserRelL2 = Math.min(r.minDenoiserRelL2, e);
        }
        for (const e of verdict.measured.neighbourRelL2) r.minNeighbourRelL2 = Math.min(r.minNeighbourRelL2, e);
        for (const e of verdict.measured.textRelL2) r.maxTextRelL2 = Math.max(r.maxTextRelL2, e);
        if (verdict.measured.tilePsnrDb !== undefined) r.minTilePsnrDb = Math.min(r.minTilePsnrDb, verdict.measured.tilePsnrDb);
        if (verdict.measured.tileBlockPsnrDb !== undefined)
          r.minTileBlockPsnrDb = Math.min(r.minTileBlockPsnrDb, verdict.measured.tileBlockPsnrDb);
        if (isHonest) {
          honestTotal++;
          if (!verdict.ok) honestRefused++;
        } else {
          wrongTotal++;
          if (verdict.ok) wrongAccepted++;
        }
      }
      log(
        `round ${i + 1}/${options.perClass}: ${honestRefused}/${honestTotal} honest refused, ${wrongAccepted}/${wrongTotal} wrong accepted`,
      );
    }
  } finally {
    await Promise.allSettled(runners.map((r) => r.close()));
  }
  const renderMs = median(renderCpu);
  const verifyMs = median(verifyCpu);
  return {
    pipeline: m.id,
    k: options.k ?? m.verification.stepsPerCheck,
    steps: m.sampling.steps.default,
    segments: honestTotal + wrongTotal,
    classes,
    falseAccept: wrongAccepted / wrongTotal,
    falseReject: honestRefused / honestTotal,
    costRatio: verifyMs / renderMs,
    renderCpuMs: renderMs,
    verifyCpuMs: verifyMs,
    newProviderCostRatio: median(verifyNewCpu) / renderMs,
  };
}
