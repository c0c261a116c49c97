// The trust study of verification by committed steps: renders segments with
// the default diffusion pipeline as an honest provider does (several thread
// counts and guidance batch sizes, H.264 like the provider), and as a
// cheating provider could (wrong prompt, wrong seed, another model, fewer
// steps, skipped steps, int8 weights, a cheaper decoder, a low-quality
// re-encode), each cheat claiming the right job in its trace root. Then it
// verifies each one exactly as a client does and counts what is accepted.
// The client's side is what a client does with a delivered segment: the
// one-pass sampled ffmpeg decode of the MP4 (shared/media's decodeSampled),
// then verifyTrace; both are costed in CPU (ffmpeg's own included).
// Rounds are independent (each draws its jobs from its own seed), so they are
// spread over worker processes (`workers`, one per core by default); CPU is
// measured per process, so a worker's figures are its own work only.
// Used by scripts/diffusion-trust-study.ts (full run) and
// scripts/bench/diffusion-trust.ts (`pnpm bench`, a short run).
import { registerHooks } from "node:module";
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
// What users type is not always a training caption: words it does not know, too few, too many.
const FREE_HONEST = "honest, free-form prompt (0-14 words, some unknown)";
const HONEST = [
  "honest, 1 thread, CFG batch 2",
  "honest, 2 threads, CFG batch 1",
  "honest, 2 threads, CFG batch 2",
  NEW_HONEST,
  FREE_HONEST,
] as const;
const UNKNOWN_WORDS = ["cat", "sunset", "the", "ocean", "slowly", "big", "benchmark", "glowing", "city", "over"];
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

/** One k of the frontier: the same segments re-verified with k sampled steps. */
interface FrontierPoint {
  k: number;
  /** Disguised every-other-step skips (the "noise above the neighbour floor" class) accepted, of `skipN`. */
  skipAccepted: number;
  skipN: number;
  /** Their expected escape: a draw of k distinct steps of T missing all T/2 reused ones. */
  skipEscapeExpected: number;
  /** Wrong segments accepted over all cheats, with this k for the disguised skip and the measured outcome of the others. */
  falseAccept: number;
  /** Honest segments (1 thread, CFG batch 2) refused at this k. */
  honestRefused: number;
  honestN: number;
  /** Median verifyTrace CPU / median render CPU, and with the client's mean decode CPU added. */
  costRatio: number;
  clientCostRatio: number;
}

export interface TrustStudyResult {
  pipeline: string;
  k: number;
  steps: number;
  segments: number;
  workers: number;
  /** Wall time of the study, seconds. */
  wallSeconds: number;
  classes: Record<string, ClassResult>;
  falseAccept: number;
  falseReject: number;
  /** verifyTrace CPU over provider render CPU (medians per segment, honest 1-thread segments at the manifest's k). */
  costRatio: number;
  /** …with the client's decode of the delivered MP4 (its own CPU and ffmpeg's, mean per segment) added: the client's whole content check. */
  clientCostRatio: number;
  renderCpuMs: number;
  verifyCpuMs: number;
  decodeCpuMs: number;
  /** The same for an honest segment checked as a new provider's (k = NEW_PROVIDER_STEPS). */
  newProviderCostRatio: number;
  /** Median CPU (ms) of each check of verifyTrace on honest segments at the manifest's k: where the cost goes. */
  profile: Record<string, number>;
  frontier: FrontierPoint[];
}

/** What a worker reports for one verified segment. */
interface SegmentRecord {
  cls: string;
  ok: boolean;
  check?: string | undefined;
  measured: Awaited<ReturnType<typeof verifyTrace>>["measured"];
  renderCpuMs: number;
  verifyCpuMs: number;
  decodeCpuMs: number;
  checkCpuMs: Record<string, number>;
  /** For the frontier classes: accepted and verifyTrace CPU at each frontier k. */
  frontier?: { k: number; ok: boolean; cpuMs: number }[] | undefined;
}

const silent = { info() {}, warn() {} };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** This process's CPU and its waited-for children's (ffmpeg), ms; Linux /proc (clock ticks of 10 ms), else own only. */
const cpuWithChildrenMs = () => {
  let children = 0;
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    children = (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    // not Linux
  }
  return cpuMs() + children;
};
const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
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

/** The MP4 a provider delivers (H.264 CRF 18, as shared/media encodes), or one re-encoded at low quality. */
async function h264(frames: Uint8Array[], w: number, h: number, fps: number, crf?: number): Promise<Uint8Array> {
  if (crf === undefined) return media.encodeSegment(frames, { width: w, height: h, fps });
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
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface TrustStudyOptions {
  pipelinePath: string;
  perClass: number;
  k?: number | undefined;
  seed?: number | undefined;
  log?: ((line: string) => void) | undefined;
  /** Worker processes (default: one per core, at most the number of rounds; 1 runs in this process). */
  workers?: number | undefined;
  /** The k values of the frontier (default 1..7). */
  frontier?: number[] | undefined;
}

const FRONTIER_SKIP = "skipped steps (reused + noise above the neighbour floor)";

/** C(T − T/2, k) / C(T, k): k distinct steps of T all land on the T/2 computed ones. */
function skipEscape(steps: number, k: number): number {
  const reused = Math.floor(steps / 2);
  let p = 1;
  for (let j = 0; j < k; j++) p *= (steps - reused - j) / (steps - j);
  return Math.max(0, p);
}

export async function runTrustStudy(options: TrustStudyOptions): Promise<TrustStudyResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rounds = Array.from({ length: options.perClass }, (_, i) => i);
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), rounds.length));
  const frontierKs = options.frontier ?? [1, 2, 3, 4, 5, 6, 7];
  const work = { pipelinePath: options.pipelinePath, k: options.k, seed: options.seed, frontier: frontierKs };
  let records: SegmentRecord[];
  if (workers === 1) records = await runRounds(work, rounds, log);
  else {
    const parts = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        runInWorker(
          work,
          rounds.filter((r) => r % workers === w),
          (l) => log(`[worker ${w + 1}] ${l}`),
        ),
      ),
    );
    records = parts.flat();
  }
  const m = (await loadPipeline(options.pipelinePath)).manifest;
  return summarise(records, {
    pipeline: m.id,
    k: options.k ?? m.verification.stepsPerCheck,
    steps: m.sampling.steps.default,
    workers,
    wallSeconds: (performance.now() - started) / 1000,
    frontierKs,
  });
}

type Work = { pipelinePath: string; k?: number | undefined; seed?: number | undefined; frontier: number[] };

/** Runs `rounds` in a child process (this module, WORKER_ENV set) and returns its records. */
function runInWorker(work: Work, rounds: number[], log: (line: string) => void): Promise<SegmentRecord[]> {
  if (rounds.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, [WORKER_ENV]: "1" },
      execArgv: process.execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: SegmentRecord[] | undefined;
    child.on("message", (msg: { log?: string; records?: SegmentRecord[]; error?: string }) => {
      if (msg.log !== undefined) log(msg.log);
      if (msg.records) result = msg.records;
      if (msg.error) reject(new Error(`trust study worker: ${msg.error}`));
    });
    child.on("error", reject);
    child.on("exit", (code) => (result && code === 0 ? resolve(result) : reject(new Error(`trust study worker exited with ${code}`))));
    child.send({ work, rounds });
  });
}

const WORKER_ENV = "RENDERMESH_TRUST_WORKER";

/** Renders and verifies every class once per round, as a provider and a client do; returns a record per segment. */
async function runRounds(options: Work, rounds: number[], log: (line: string) => void): Promise<SegmentRecord[]> {
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

  let rng = new Xoshiro128(options.seed ?? 20261201);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.next() * xs.length)] as T;
  const randomPrompt = () => {
    const colour = pick(COLOURS);
    return caption({ colour, shape: pick(SHAPES), direction: pick(DIRECTIONS), background: pick(COLOURS.filter((c) => c !== colour)) });
  };
  const freePrompt = () => {
    const words = [...COLOURS, ...SHAPES, ...DIRECTIONS, "a", "moving", "on", "background", ...UNKNOWN_WORDS];
    return Array.from({ length: Math.floor(rng.next() * 15) }, () => pick(words)).join(" ");
  };
  const { width: W, height: H, fps } = m.video;
  const all = [...HONEST, ...CHEATS];
  const records: SegmentRecord[] = [];
  const allFrames = new Set(Array.from({ length: m.video.framesPerClip }, (_, i) => i));
  try {
    for (const round of rounds) {
      // Each round draws from its own stream: the jobs do not depend on how rounds are spread over workers.
      rng = new Xoshiro128(options.seed ?? 20261201, round);
      for (const cls of all) {
        const job = { prompt: randomPrompt(), seed: Math.floor(rng.next() * 2 ** 40), segment: Math.floor(rng.next() * 16) };
        let gen: Generation;
        let mp4: Uint8Array | undefined;
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
          case FRONTIER_SKIP:
          case NEW_SKIP:
            gen = await generateSkipping(honest[0]!, job, 1e-2);
            break;
          case NEW_HONEST:
            gen = await honest[0]!.generate(job);
            break;
          case FREE_HONEST:
            job.prompt = freePrompt();
            gen = await honest[1]!.generate(job);
            break;
          case "int8-quantised weights":
            gen = await int8.generate(job);
            break;
          case "cheaper decoder (4-bit weights)":
            gen = await cheapDecoder.generate(job);
            break;
          case "low-quality re-encode (CRF 40)":
            gen = await honest[0]!.generate(job);
            mp4 = await h264(gen.frames, W, H, fps, 40);
            break;
          default:
            gen = await honest[HONEST.indexOf(cls as (typeof HONEST)[number])]!.generate(job);
        }
        const renderCpuMs = cpuMs() - c0;
        mp4 ??= await h264(gen.frames, W, H, fps);
        const store = new MemoryTraceStore();
        const root = await publishTrace(await encodeTrace(gen.trace), store);
        // The client: decode the delivered MP4 in one ffmpeg pass, then check the committed steps.
        const d0 = cpuWithChildrenMs();
        const decoded = await media.decodeSampled(mp4, allFrames);
        const decodeCpuMs = cpuWithChildrenMs() - d0;
        const frames = [...allFrames].map((f) => decoded.frames.get(f) as Uint8Array);
        const asNew = cls === NEW_HONEST || cls === NEW_SKIP;
        const v0 = cpuMs();
        const verdict = await verifyTrace({ runner: verifier, job, root, store, frames, k: asNew ? shared.NEW_PROVIDER_STEPS : options.k });
        const verifyCpuMs = cpuMs() - v0;
        let frontier: SegmentRecord["frontier"];
        if (cls === HONEST[0] || cls === FRONTIER_SKIP) {
          frontier = [];
          for (const k of options.frontier) {
            const f0 = cpuMs();
            const v = await verifyTrace({ runner: verifier, job, root, store, frames, k });
            frontier.push({ k, ok: v.ok, cpuMs: cpuMs() - f0 });
          }
        }
        records.push({
          cls,
          ok: verdict.ok,
          check: verdict.check,
          measured: verdict.measured,
          renderCpuMs,
          verifyCpuMs,
          decodeCpuMs,
          checkCpuMs: verdict.cpuMs,
          frontier,
        });
      }
      const wrong = records.filter((r) => !(HONEST as readonly string[]).includes(r.cls));
      const right = records.filter((r) => (HONEST as readonly string[]).includes(r.cls));
      log(
        `round ${round + 1}: ${right.filter((r) => !r.ok).length}/${right.length} honest refused, ${wrong.filter((r) => r.ok).length}/${wrong.length} wrong accepted`,
      );
    }
  } finally {
    await Promise.allSettled(runners.map((r) => r.close()));
  }
  return records;
}

/** The study's figures from the segments' records. */
function summarise(
  records: SegmentRecord[],
  meta: { pipeline: string; k: number; steps: number; workers: number; wallSeconds: number; frontierKs: number[] },
): TrustStudyResult {
  const classes: Record<string, ClassResult> = {};
  const isHonest = (cls: string) => (HONEST as readonly string[]).includes(cls);
  for (const cls of [...HONEST, ...CHEATS]) {
    for (const rec of records.filter((x) => x.cls === cls)) {
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
      if (rec.ok) r.accepted++;
      else r.refusedBy[rec.check as string] = (r.refusedBy[rec.check as string] ?? 0) + 1;
      for (const e of rec.measured.denoiserRelL2) {
        r.maxDenoiserRelL2 = Math.max(r.maxDenoiserRelL2, e);
        r.minDenoiserRelL2 = Math.min(r.minDenoiserRelL2, e);
      }
      for (const e of rec.measured.neighbourRelL2) r.minNeighbourRelL2 = Math.min(r.minNeighbourRelL2, e);
      for (const e of rec.measured.textRelL2) r.maxTextRelL2 = Math.max(r.maxTextRelL2, e);
      if (rec.measured.tilePsnrDb !== undefined) r.minTilePsnrDb = Math.min(r.minTilePsnrDb, rec.measured.tilePsnrDb);
      if (rec.measured.tileBlockPsnrDb !== undefined) r.minTileBlockPsnrDb = Math.min(r.minTileBlockPsnrDb, rec.measured.tileBlockPsnrDb);
    }
  }
  const honest = records.filter((r) => isHonest(r.cls));
  const wrong = records.filter((r) => !isHonest(r.cls));
  const base = records.filter((r) => r.cls === HONEST[0]);
  const renderMs = median(base.map((r) => r.renderCpuMs));
  const verifyMs = median(base.map((r) => r.verifyCpuMs));
  const decodeMs = mean(records.map((r) => r.decodeCpuMs));
  const profile: Record<string, number> = {};
  for (const check of Object.keys(base[0]?.checkCpuMs ?? {})) profile[check] = median(base.map((r) => r.checkCpuMs[check] as number));
  profile["client decode (own + ffmpeg, mean)"] = decodeMs;
  const skips = records.filter((r) => r.cls === FRONTIER_SKIP);
  const otherWrongAccepted = wrong.filter((r) => r.cls !== FRONTIER_SKIP && r.ok).length;
  const frontier: FrontierPoint[] = meta.frontierKs.map((k) => {
    const at = (r: SegmentRecord) => r.frontier?.find((f) => f.k === k);
    const skipAccepted = skips.filter((r) => at(r)?.ok).length;
    const cost = median(base.map((r) => at(r)?.cpuMs ?? NaN));
    return {
      k,
      skipAccepted,
      skipN: skips.length,
      skipEscapeExpected: skipEscape(meta.steps, k),
      falseAccept: (otherWrongAccepted + skipAccepted) / wrong.length,
      honestRefused: base.filter((r) => at(r)?.ok === false).length,
      honestN: base.length,
      costRatio: cost / renderMs,
      clientCostRatio: (cost + decodeMs) / renderMs,
    };
  });
  return {
    ...meta,
    segments: records.length,
    classes,
    falseAccept: wrong.filter((r) => r.ok).length / wrong.length,
    falseReject: honest.filter((r) => !r.ok).length / honest.length,
    costRatio: verifyMs / renderMs,
    clientCostRatio: (verifyMs + decodeMs) / renderMs,
    renderCpuMs: renderMs,
    verifyCpuMs: verifyMs,
    decodeCpuMs: decodeMs,
    newProviderCostRatio: median(records.filter((r) => r.cls === NEW_HONEST).map((r) => r.verifyCpuMs)) / renderMs,
    profile,
    frontier,
  };
}

// A worker process: run the rounds it is sent and send back the records.
if (process.env[WORKER_ENV] === "1" && process.send) {
  // The study stopped (or died): so does the worker, rather than render on for nobody.
  process.once("disconnect", () => process.exit(1));
  process.once("message", (msg: { work: Work; rounds: number[] }) => {
    const send = (m: unknown) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
    runRounds(msg.work, msg.rounds, (l) => void send({ log: l })).then(
      async (records) => {
        await send({ records });
        process.exit(0);
      },
      async (err: unknown) => {
        await send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        process.exit(1);
      },
    );
  });
}
