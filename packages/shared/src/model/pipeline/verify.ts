import { randomInt } from "node:crypto";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { framesToRgb24, type PipelineRunner } from "./runner.js";
import { latentShape } from "./manifest.js";
import { segmentNoise } from "./noise.js";
import { createScheduler, guide, type PastStep } from "./scheduler.js";
import { decodeTraceRoot, rawCid, tensorBytes, tensorFromBytes, type TraceBlockStore, type TraceRoot } from "./trace.js";

/**
 * Verification by committed steps. After a delivery the verifier draws k
 * steps at random, fetches only their blocks, and checks, cheapest first:
 *  1. `trace-root`  the root is well formed and names this pipeline, seed,
 *                   segment, guidance, step count and schedule;
 *  2. `noise`       the first latent is the seed's noise bit for bit (by CID:
 *                   no block is fetched);
 *  3. `scheduler`   each sampled step's guidance and scheduler arithmetic
 *                   gives the next committed latent bit for bit, and its
 *                   output is not its neighbours' (a reused, skipped step);
 *  4. `text`        the text embedding re-computed within tolerance (the
 *                   denoiser check below trusts it);
 *  5. `denoiser`    the denoiser re-run on each sampled step's committed input
 *                   latent gives its committed outputs (both guidance
 *                   branches) within the per-step tolerance;
 *  6. `tile`        one random latent tile of the final latent decoded against
 *                   the delivered frames, by luma PSNR, per pixel and (when the
 *                   manifest sets `tileBlockPsnrDb`) per block of one latent pixel.
 * A provider that faked a fraction f of the steps escapes 3 and 5 with
 * probability (1 − f)^k. See README.md for the measured numbers.
 */

export type TraceCheck = "trace-root" | "noise" | "scheduler" | "text" | "denoiser" | "tile";

export interface TraceVerdict {
  ok: boolean;
  /** The failing check (undefined when ok). */
  check?: TraceCheck | undefined;
  reason?: string | undefined;
  /** Sampled step indices. */
  steps: number[];
  measured: {
    textRelL2: number[];
    denoiserRelL2: number[];
    neighbourRelL2: number[];
    tilePsnrDb?: number | undefined;
    tileBlockPsnrDb?: number | undefined;
  };
  /** Work done: model evaluations (batch items) and blocks fetched. */
  cost: { denoiserEvals: number; textEvals: number; decodedLatentFrames: number; blocks: number };
  /**
   * Process CPU (ms, `process.cpuUsage`: this thread and ONNX Runtime's) spent in each check, block fetches and
   * hashing included where they happen — the profile of where verification's cost goes.
   */
  cpuMs: Record<TraceCheck, number>;
}

export interface VerifyTraceOptions {
  /** A runner of the job's pipeline (the verifier's own copy of the model). */
  runner: PipelineRunner;
  job: { prompt: string; seed: number; segment: number; steps?: number | undefined; guidance?: number | undefined };
  root: CID;
  store: TraceBlockStore;
  /** The delivered frames, decoded to RGB24. */
  frames: readonly Uint8Array[];
  /** Steps to sample (default: the manifest's stepsPerCheck). */
  k?: number | undefined;
  random?: ((maxExclusive: number) => number) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Below this relative difference two steps' outputs are the same output: no
 * honest trajectory repeats itself this closely (the trust study records the
 * smallest honest neighbour difference), a provider that skipped work does.
 */
export const NEIGHBOUR_MIN_REL_L2 = 1e-5;

/** A provider with fewer accepted segments than this (at this verifier) is checked with `NEW_PROVIDER_STEPS`. */
export const NEW_PROVIDER_SEGMENTS = 20;
/**
 * Steps sampled per segment of a provider with little history: a cheat that
 * skips every other step and disguises it escapes with (1/2)^k, 0.8% at 7
 * (the trust study measures it), for ~3× the verification cost of k = 2.
 */
export const NEW_PROVIDER_STEPS = 7;

/** Steps to sample for a provider whose segments this verifier accepted `acceptedBefore` times. */
export function traceStepsFor(manifest: Pick<PipelineRunner["manifest"], "verification">, acceptedBefore: number): number {
  const k = manifest.verification.stepsPerCheck;
  return acceptedBefore < NEW_PROVIDER_SEGMENTS ? Math.max(k, NEW_PROVIDER_STEPS) : k;
}

/** A runner's own text embeddings by prompt: every segment of a job shares its prompt, and every job the negative prompt. */
const textCaches = new WeakMap<PipelineRunner, Map<string, Float32Array>>();
function textCache(runner: PipelineRunner): Map<string, Float32Array> {
  let cache = textCaches.get(runner);
  if (!cache) textCaches.set(runner, (cache = new Map()));
  if (cache.size > 256) cache.clear();
  return cache;
}

/** ‖a − b‖ / ‖b‖ (0 when both are zero). */
export function relL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    num += d * d;
    den += (b[i] as number) * (b[i] as number);
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

/** Luma (BT.709) PSNR of two RGB24 frames, dB. */
export function lumaPsnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  let sum = 0;
  for (let i = 0; i < a.length; i += 3) {
    const ya = 0.2126 * (a[i] as number) + 0.7152 * (a[i + 1] as number) + 0.0722 * (a[i + 2] as number);
    const yb = 0.2126 * (b[i] as number) + 0.7152 * (b[i + 1] as number) + 0.0722 * (b[i + 2] as number);
    sum += (ya - yb) ** 2;
  }
  const mse = sum / (a.length / 3);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * Luma PSNR of two RGB24 frames compared as means of block×block squares
 * (a low-pass view), dB. Edge blocks that do not fill a square use what they have.
 */
export function blockLumaPsnr(a: Uint8Array, b: Uint8Array, width: number, height: number, block: number): number {
  if (a.length !== b.length || a.length !== width * height * 3) return 0;
  let sum = 0;
  let blocks = 0;
  for (let by = 0; by < height; by += block)
    for (let bx = 0; bx < width; bx += block) {
      let d = 0;
      let n = 0;
      for (let y = by; y < Math.min(by + block, height); y++)
        for (let x = bx; x < Math.min(bx + block, width); x++) {
          const i = (y * width + x) * 3;
          d +=
            0.2126 * ((a[i] as number) - (b[i] as number)) +
            0.7152 * ((a[i + 1] as number) - (b[i + 1] as number)) +
            0.0722 * ((a[i + 2] as number) - (b[i + 2] as number));
          n++;
        }
      sum += (d / n) ** 2;
      blocks++;
    }
  const mse = sum / blocks;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Distinct random indices in [0, n), as many as k (or n). */
function drawSteps(n: number, k: number, random: (max: number) => number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < Math.min(k, n); i++) {
    const j = i + random(n - i);
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  return pool.slice(0, Math.min(k, n)).sort((a, b) => a - b);
}

export async function verifyTrace(options: VerifyTraceOptions): Promise<TraceVerdict> {
  const { runner, job, store, signal } = options;
  const m = runner.manifest;
  const random = options.random ?? randomInt;
  const k = options.k ?? m.verification.stepsPerCheck;
  const tol = m.verification.tolerances;
  const measured: TraceVerdict["measured"] = { textRelL2: [], denoiserRelL2: [], neighbourRelL2: [] };
  const cost = { denoiserEvals: 0, textEvals: 0, decodedLatentFrames: 0, blocks: 0 };
  const cpuMs: Record<TraceCheck, number> = { "trace-root": 0, noise: 0, scheduler: 0, text: 0, denoiser: 0, tile: 0 };
  let mark = processCpuMs();
  /** Charges the CPU since the last lap to `check`. */
  const lap = (check: TraceCheck) => {
    const now = processCpuMs();
    cpuMs[check] += now - mark;
    mark = now;
  };
  let steps: number[] = [];
  const fail = (check: TraceCheck, reason: string): TraceVerdict => (
    lap(check),
    { ok: false, check, reason, steps, measured, cost, cpuMs }
  );
  // A block's fetch, started once: `prefetch` starts every block a check will read, so that the store asks for
  // them together (one want-list, one answer from the provider) instead of one round trip per block; the checks
  // then await them in their own order, so a block that cannot be fetched or is malformed fails the same check
  // it would fail when fetched alone.
  const fetches = new Map<string, Promise<Float32Array>>();
  const fetchBlock = (cid: CID): Promise<Float32Array> => {
    const key = cid.toString();
    let pending = fetches.get(key);
    if (!pending) {
      pending = (async () => {
        const bytes = await store.get(cid, { signal });
        cost.blocks++;
        // A store may not check blocks against their CID (a Kubo RPC store); a mismatched block proves nothing about the trace.
        if (!(await rawCid(bytes)).equals(cid)) throw new TraceBlockError(`block ${key} does not hash to its CID`);
        return tensorFromBytes(bytes);
      })();
      pending.catch(() => {}); // awaited (and thrown) where a check reads it; a prefetch nobody reads must not go unhandled
      fetches.set(key, pending);
    }
    return pending;
  };
  const fetchTensor = async (cid: CID, length: number): Promise<Float32Array> => {
    const data = await fetchBlock(cid);
    if (data.length !== length) throw new TraceBlockError(`block ${cid.toString()} has ${data.length} values, expected ${length}`);
    return data;
  };
  const prefetch = (cids: Iterable<CID | undefined>) => {
    for (const cid of cids) if (cid) void fetchBlock(cid);
  };

  // 1. The root.
  // A block that cannot be fetched is thrown (the caller may retry); one that is malformed fails the check.
  const rootBytes = await store.get(options.root, { signal });
  cost.blocks++;
  // As for every tensor block below: a store that does not check blocks against their CID must not decide what the root says.
  if (!CID.createV1(options.root.code, await sha256.digest(rootBytes)).equals(options.root))
    return fail("trace-root", "the root block does not hash to its CID");
  let root: TraceRoot;
  try {
    root = decodeTraceRoot(rootBytes);
  } catch (err) {
    return fail("trace-root", `the trace root cannot be read: ${(err as Error).message}`);
  }
  const nSteps = job.steps ?? m.sampling.steps.default;
  const guidance = job.guidance ?? m.sampling.guidance.default;
  const dims = latentShape(m, m.video.width, m.video.height, m.video.framesPerClip);
  const scheduler = createScheduler(m.scheduler);
  scheduler.setTimesteps(nSteps);
  const cfg = m.sampling.guidance.classifierFree;
  const problems: string[] = [];
  if (root.pipeline !== m.id) problems.push(`pipeline ${root.pipeline} is not ${m.id}`);
  if (root.seed !== job.seed || root.segment !== job.segment)
    problems.push(`seed/segment ${root.seed}/${root.segment} are not ${job.seed}/${job.segment}`);
  if (Math.fround(root.guidance) !== Math.fround(guidance)) problems.push(`guidance ${root.guidance} is not ${guidance}`);
  if (root.latentDims.join() !== dims.join()) problems.push(`latent [${root.latentDims.join(",")}] is not [${dims.join(",")}]`);
  if (root.timesteps.length !== nSteps || root.latents.length !== nSteps || root.cond.length !== nSteps)
    problems.push(`${root.timesteps.length} steps committed, the job asks for ${nSteps}`);
  else if (root.timesteps.some((t, i) => t !== scheduler.timesteps[i])) problems.push("the timesteps are not the scheduler's");
  if (cfg !== (root.uncond !== undefined && root.text.uncond !== undefined) || (cfg && root.uncond?.length !== nSteps))
    problems.push("the guidance branches do not match the manifest");
  if (problems.length > 0) return fail("trace-root", problems.join("; "));
  lap("trace-root");

  // 2. The initial noise, by CID.
  const count = dims.reduce((a, b) => a * b, 1);
  const noise = segmentNoise(job.seed, job.segment, count);
  if (!(await rawCid(tensorBytes(noise))).equals(root.latents[0] as CID)) return fail("noise", "the first latent is not the seed's noise");
  lap("noise");

  steps = drawSteps(nSteps, k, random);
  // Every block the checks below read, asked for at once.
  {
    const wanted: Array<CID | undefined> = [];
    for (const i of steps) {
      wanted.push(root.latents[i], root.cond[i], root.uncond?.[i], i + 1 < nSteps ? root.latents[i + 1] : root.final);
      for (let j = i - 1; j >= i - scheduler.historyAt(i); j--) wanted.push(root.cond[j], root.uncond?.[j], root.latents[j]);
      for (const j of [i - 1, i + 1]) if (j >= 0 && j < nSteps) wanted.push(root.cond[j]);
    }
    wanted.push(root.text.cond, root.text.uncond, root.final);
    prefetch(wanted);
  }
  try {
    // 3. Scheduler arithmetic at the sampled steps.
    const fetched: { i: number; latent: Float32Array; cond: Float32Array; uncond?: Float32Array | undefined }[] = [];
    for (const i of steps) {
      signal?.throwIfAborted();
      const latent = await fetchTensor(root.latents[i] as CID, count);
      const cond = await fetchTensor(root.cond[i] as CID, count);
      const uncond = cfg ? await fetchTensor((root.uncond as CID[])[i] as CID, count) : undefined;
      const next = await fetchTensor(i + 1 < nSteps ? (root.latents[i + 1] as CID) : root.final, count);
      const v = uncond === undefined ? cond : guide(cond, uncond, guidance);
      // A multistep solver's step also uses the earlier steps' samples and outputs: those are committed too.
      const previous: PastStep[] = [];
      for (let j = i - 1; j >= i - scheduler.historyAt(i); j--) {
        const pc = await fetchTensor(root.cond[j] as CID, count);
        const pu = cfg ? await fetchTensor((root.uncond as CID[])[j] as CID, count) : undefined;
        previous.push({
          sample: await fetchTensor(root.latents[j] as CID, count),
          output: pu === undefined ? pc : guide(pc, pu, guidance),
        });
      }
      const expected = scheduler.stepAt(i, latent, v, previous);
      if (!sameBits(expected, next))
        return fail("scheduler", `step ${i}: the next latent is not the scheduler's step from the committed outputs`);
      // Work skipped by reusing a neighbouring step's output shows as (nearly) equal outputs: caught with a block fetch, no model run.
      for (const j of [i - 1, i + 1]) {
        if (j < 0 || j >= nSteps) continue;
        const d = relL2(await fetchTensor(root.cond[j] as CID, count), cond);
        measured.neighbourRelL2.push(d);
        if (d < NEIGHBOUR_MIN_REL_L2)
          return fail(
            "denoiser",
            `steps ${Math.min(i, j)} and ${Math.max(i, j)} commit the same denoiser output (relative difference ${d.toExponential(1)}: a step was skipped)`,
          );
      }
      fetched.push({ i, latent, cond, uncond });
    }
    lap("scheduler");

    // 4. The text embedding.
    const textCount = root.textDims.reduce((a, b) => a * b, 1);
    const textCond = await fetchTensor(root.text.cond, textCount);
    const textUncond = cfg ? await fetchTensor(root.text.uncond as CID, textCount) : undefined;
    const encode = async (text: string) => {
      const cached = textCache(runner).get(text);
      if (cached) return cached;
      const own = (await runner.encodeText(text)).data;
      cost.textEvals++;
      textCache(runner).set(text, own);
      return own;
    };
    measured.textRelL2.push(relL2(textCond, await encode(job.prompt)));
    if (cfg) measured.textRelL2.push(relL2(textUncond as Float32Array, await encode(m.sampling.guidance.negativePrompt)));
    const worstText = Math.max(...measured.textRelL2);
    if (!(worstText <= tol.textRelL2))
      return fail("text", `text embedding off by ${worstText.toExponential(2)} (tolerance ${tol.textRelL2})`);
    lap("text");

    // 5. The denoiser at the sampled steps, on the committed inputs.
    const textDims = root.textDims;
    for (const s of fetched) {
      signal?.throwIfAborted();
      const out = await runner.denoise(
        { data: s.latent, dims },
        scheduler.timesteps[s.i] as number,
        { data: textCond, dims: textDims },
        textUncond ? { data: textUncond, dims: textDims } : undefined,
      );
      cost.denoiserEvals += cfg ? 2 : 1;
      const errs = [relL2(s.cond, out.cond), ...(s.uncond && out.uncond ? [relL2(s.uncond, out.uncond)] : [])];
      measured.denoiserRelL2.push(...errs);
      const worst = Math.max(...errs);
      if (!(worst <= tol.denoiserRelL2))
        return fail("denoiser", `step ${s.i}: denoiser output off by ${worst.toExponential(2)} (tolerance ${tol.denoiserRelL2})`);
    }
    lap("denoiser");

    // 6. One decoded tile of the final latent against the delivered frames.
    const final = await fetchTensor(root.final, count);
    const latentFrames = dims[2];
    const per = m.decode.latentFramesPerTile;
    const tiles = Math.ceil(latentFrames / per);
    const tile = random(tiles);
    const decoded = await runner.decodeTile({ data: final, dims }, tile * per, Math.min(per, latentFrames - tile * per));
    cost.decodedLatentFrames += Math.min(per, latentFrames - tile * per);
    const rgb = framesToRgb24(decoded, m.components.decoder.outputRange, m.video.width, m.video.height);
    // The first frame this tile decodes to: latent frame j starts at frame j·tc, or at j·tc − (tc − 1) under a k·n+1 rule (frame 0 alone).
    const from = tile * per;
    const tc = m.latent.temporalCompression;
    const first = from === 0 ? 0 : from * tc - (m.video.frameRule.offset > 0 ? tc - 1 : 0);
    let worst = Infinity;
    let worstBlock = Infinity;
    const block = m.latent.spatialCompression;
    for (let f = 0; f < rgb.length; f++) {
      const delivered = options.frames[first + f];
      worst = Math.min(worst, delivered === undefined ? 0 : lumaPsnr(rgb[f] as Uint8Array, delivered));
      worstBlock = Math.min(
        worstBlock,
        delivered === undefined ? 0 : blockLumaPsnr(rgb[f] as Uint8Array, delivered, m.video.width, m.video.height, block),
      );
    }
    measured.tilePsnrDb = worst;
    measured.tileBlockPsnrDb = worstBlock;
    if (!(worst >= tol.tilePsnrDb))
      return fail("tile", `decoded tile ${tile} is ${worst.toFixed(1)} dB from the delivered frames (floor ${tol.tilePsnrDb} dB)`);
    if (tol.tileBlockPsnrDb !== undefined && !(worstBlock >= tol.tileBlockPsnrDb))
      return fail(
        "tile",
        `decoded tile ${tile} is ${worstBlock.toFixed(1)} dB from the delivered frames in ${block}x${block} block means (floor ${tol.tileBlockPsnrDb} dB): another decoder`,
      );
  } catch (err) {
    if (err instanceof TraceBlockError) return fail("trace-root", err.message);
    throw err;
  }
  lap("tile");
  return { ok: true, steps, measured, cost, cpuMs };
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A trace block that is malformed: the provider's fault, never the verifier's. */
export class TraceBlockError extends Error {
  override name = "TraceBlockError";
}
