import { createHash } from "node:crypto";
import { segmentFrames } from "../index.js";
import {
  DEFAULT_FETCH_ATTEMPTS,
  DEFAULT_FETCH_BACKOFF_MS,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MIN_PIXELS,
  DEFAULT_PIXEL_FRACTION,
  DEFAULT_PSNR_THRESHOLD_DB,
  DEFAULT_RGB_FLOOR_DB,
  DEFAULT_SAMPLED_FRAMES,
} from "./constants.js";
import { cryptoRandomInt, gatherPixels, luma709, psnr8, sampleDistinct, type RandomInt } from "./sampling.js";
import type {
  CheckFailure,
  CheckName,
  DeliveredSegment,
  SegmentProbe,
  Verifier,
  VerifierComponents,
  VerifyJob,
  VerifyOptions,
  VerifyResult,
  VerifyTimings,
} from "./types.js";

export interface SegmentVerifierInit {
  /** A sampled frame passes at or above this luma PSNR (dB). */
  psnrThresholdDb?: number;
  /** …and at or above this RGB PSNR (dB). */
  rgbFloorDb?: number;
  /** Frames spot-checked per segment. */
  sampledFrames?: number;
  /** Fraction of a sampled frame's pixels that is compared. */
  pixelFraction?: number;
  /** Lower bound on compared pixels per sampled frame. */
  minPixels?: number;
  fetchAttempts?: number;
  fetchTimeoutMs?: number;
  fetchBackoffMs?: number;
  /** Where the random frame and pixel choices come from (crypto by default; tests may fix it). */
  random?: RandomInt;
  /**
   * Trace-verified segments already accepted per provider address (e.g. counted from the client's journal):
   * a provider with `NEW_PROVIDER_SEGMENTS` of them is checked with the manifest's k from its first segment
   * here instead of `NEW_PROVIDER_STEPS`. Default: none (every provider starts new, on the safe side).
   */
  acceptedTraces?: ReadonlyMap<string, number> | undefined;
}

/** Thrown inside a check to fail the segment; caught by the verifier and turned into a result. */
class CheckFailed extends Error {
  constructor(
    readonly check: CheckName,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

const lower = (s: string) => s.toLowerCase();
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

/**
 * The default `Verifier`: checks a delivered segment in order of cost —
 * signatures and receipt fields, fetch by CID, sha256 against the receipt,
 * decode (size, fps, frame count), then a content spot-check that re-renders
 * random pixels of random frames with the job's model and seed and compares
 * them by PSNR with the decoded frames. The random choices are made only
 * after the segment is fetched, so a provider cannot know which frames to
 * render honestly.
 *
 * @example
 * const verifier = new SegmentVerifier(components);
 * const result = await verifier.verify(job, delivered);
 * if (!result.ok) console.log(result.failure.check, result.failure.message);
 */
export class SegmentVerifier implements Verifier {
  readonly psnrThresholdDb: number;
  readonly rgbFloorDb: number;
  readonly sampledFrames: number;
  readonly pixelFraction: number;
  readonly minPixels: number;
  readonly #components: VerifierComponents;
  readonly #fetchAttempts: number;
  readonly #fetchTimeoutMs: number;
  readonly #fetchBackoffMs: number;
  readonly #random: RandomInt;
  /** Trace-verified segments accepted per provider address (lower-case), in this verifier's life: a restart forgets, on the safe side. */
  readonly #acceptedTraces = new Map<string, number>();

  constructor(components: VerifierComponents, init: SegmentVerifierInit = {}) {
    this.#components = components;
    this.psnrThresholdDb = init.psnrThresholdDb ?? DEFAULT_PSNR_THRESHOLD_DB;
    this.rgbFloorDb = init.rgbFloorDb ?? DEFAULT_RGB_FLOOR_DB;
    this.sampledFrames = init.sampledFrames ?? DEFAULT_SAMPLED_FRAMES;
    this.pixelFraction = init.pixelFraction ?? DEFAULT_PIXEL_FRACTION;
    this.minPixels = init.minPixels ?? DEFAULT_MIN_PIXELS;
    this.#fetchAttempts = init.fetchAttempts ?? DEFAULT_FETCH_ATTEMPTS;
    this.#fetchTimeoutMs = init.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    this.#fetchBackoffMs = init.fetchBackoffMs ?? DEFAULT_FETCH_BACKOFF_MS;
    this.#random = init.random ?? cryptoRandomInt;
    for (const [provider, n] of init.acceptedTraces ?? []) {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`acceptedTraces of ${provider} must be a count, got ${n}`);
      this.#acceptedTraces.set(lower(provider), n);
    }
    if (!(this.sampledFrames >= 1) || !(this.pixelFraction > 0 && this.pixelFraction <= 1)) {
      throw new RangeError("sampledFrames must be at least 1 and pixelFraction in (0, 1]");
    }
  }

  async verify(job: VerifyJob, seg: DeliveredSegment, options: VerifyOptions = {}): Promise<VerifyResult> {
    const timings: VerifyTimings = { fetchMs: 0, hashMs: 0, decodeMs: 0, renderMs: 0, totalMs: 0 };
    const started = performance.now();
    let framePsnrDb: number[] | undefined;
    try {
      this.#checkReceipt(job, seg);

      let t = performance.now();
      const bytes = await this.#fetch(seg, options.signal);
      timings.fetchMs = performance.now() - t;

      t = performance.now();
      const digest = `0x${createHash("sha256").update(bytes).digest("hex")}`;
      timings.hashMs = performance.now() - t;
      if (digest !== lower(seg.delivery.delivery.sha256)) {
        throw new CheckFailed("sha256", `The segment's sha256 ${digest} is not the ${seg.delivery.delivery.sha256} its receipt signs.`);
      }

      // Chosen only now, after the bytes are fixed: the provider cannot know them.
      const { spec } = job;
      const pipeline = this.#components.isPipeline?.(spec.model) === true;
      if (pipeline) return await this.#verifyByTrace(job, seg, bytes, timings, started, options);
      const frames = sampleDistinct(spec.fps, this.sampledFrames, this.#random);
      t = performance.now();
      let probe: SegmentProbe;
      let kept: Map<number, Uint8Array>;
      try {
        ({ probe, frames: kept } = await this.#components.decode(bytes, new Set(frames), { signal: options.signal }));
      } catch (cause) {
        options.signal?.throwIfAborted();
        throw new CheckFailed("decode", `The segment does not decode as video: ${firstLine(cause)}`);
      }
      timings.decodeMs = performance.now() - t;
      const problems: string[] = [];
      if (probe.width !== spec.width || probe.height !== spec.height)
        problems.push(`size ${probe.width}x${probe.height}, expected ${spec.width}x${spec.height}`);
      if (Math.abs(probe.fps - spec.fps) > 1e-3) problems.push(`${Number(probe.fps.toFixed(3))} fps, expected ${spec.fps}`);
      if (probe.frameCount !== spec.fps) problems.push(`${probe.frameCount} frames, expected ${spec.fps}`);
      if (problems.length > 0) throw new CheckFailed("frames", `The segment has ${problems.join(", ")}.`);
      const decoded = frames.map((f) => kept.get(f));
      if (decoded.some((f) => f === undefined || f.length !== spec.width * spec.height * 3)) {
        throw new CheckFailed("frames", "The segment's decoded frames are not the expected size.");
      }

      t = performance.now();
      const pixelsPerFrame = spec.width * spec.height;
      const k = Math.min(pixelsPerFrame, Math.max(this.minPixels, Math.ceil(pixelsPerFrame * this.pixelFraction)));
      const { firstFrame } = segmentFrames(spec, seg.segment);
      framePsnrDb = [];
      const rgbPsnrDb: number[] = [];
      for (let i = 0; i < frames.length; i++) {
        const pixels = Uint32Array.from(sampleDistinct(pixelsPerFrame, k, this.#random));
        // A failure of the local renderer is ours, not the provider's: it propagates.
        const expected = await this.#components.renderPixels(spec, firstFrame + (frames[i] as number), pixels, { signal: options.signal });
        const actual = gatherPixels(decoded[i]!, pixels);
        framePsnrDb.push(psnr8(luma709(expected), luma709(actual)));
        rgbPsnrDb.push(psnr8(expected, actual));
      }
      timings.renderMs = performance.now() - t;
      const worst = Math.min(...framePsnrDb);
      if (!(worst >= this.psnrThresholdDb)) {
        const at = framePsnrDb.indexOf(worst);
        throw new CheckFailed(
          "content",
          `Frame ${firstFrame + (frames[at] as number)} differs from the model's output: luma PSNR ${worst.toFixed(1)} dB is below the ${this.psnrThresholdDb} dB threshold.`,
        );
      }
      const worstRgb = Math.min(...rgbPsnrDb);
      if (!(worstRgb >= this.rgbFloorDb)) {
        const at = rgbPsnrDb.indexOf(worstRgb);
        throw new CheckFailed(
          "content",
          `Frame ${firstFrame + (frames[at] as number)} has the wrong colours: RGB PSNR ${worstRgb.toFixed(1)} dB is below the ${this.rgbFloorDb} dB floor.`,
        );
      }
      timings.totalMs = performance.now() - started;
      return {
        ok: true,
        bytes,
        psnrDb: worst,
        framePsnrDb,
        sampledFrames: frames.map((f) => firstFrame + f),
        sampledPixels: k,
        timings,
      };
    } catch (err) {
      if (!(err instanceof CheckFailed)) throw err;
      timings.totalMs = performance.now() - started;
      const failure: CheckFailure = { check: err.check, retryable: err.retryable, message: err.message };
      return framePsnrDb ? { ok: false, failure, framePsnrDb, timings } : { ok: false, failure, timings };
    }
  }

  /**
   * A diffusion pipeline's content check: decode every frame (a random tile of
   * any of them is compared), then re-execute sampled steps of the committed
   * trace (shared/model/pipeline/verify.ts).
   */
  async #verifyByTrace(
    job: VerifyJob,
    seg: DeliveredSegment,
    bytes: Uint8Array,
    timings: VerifyTimings,
    started: number,
    options: VerifyOptions,
  ): Promise<VerifyResult> {
    const { spec } = job;
    const trace = seg.delivery.delivery.trace;
    if (trace === undefined || this.#components.verifyTrace === undefined)
      throw new CheckFailed("content", "The receipt signs no render trace, which this model's verification needs.");
    let t = performance.now();
    let probe: SegmentProbe;
    let kept: Map<number, Uint8Array>;
    try {
      ({ probe, frames: kept } = await this.#components.decode(bytes, new Set(Array.from({ length: spec.fps }, (_, i) => i)), {
        signal: options.signal,
      }));
    } catch (cause) {
      options.signal?.throwIfAborted();
      throw new CheckFailed("decode", `The segment does not decode as video: ${firstLine(cause)}`);
    }
    timings.decodeMs = performance.now() - t;
    if (
      probe.width !== spec.width ||
      probe.height !== spec.height ||
      probe.frameCount !== spec.fps ||
      Math.abs(probe.fps - spec.fps) > 1e-3
    ) {
      throw new CheckFailed(
        "frames",
        `The segment has ${probe.width}x${probe.height}, ${probe.frameCount} frames at ${Number(probe.fps.toFixed(3))} fps; expected ${spec.width}x${spec.height}, ${spec.fps} at ${spec.fps}.`,
      );
    }
    const frames = Array.from({ length: spec.fps }, (_, i) => kept.get(i) as Uint8Array);
    // The receipt's signer was checked against the assignment: this is the provider whose history counts.
    const provider = lower(seg.assignment.assignment.provider);
    t = performance.now();
    let verdict: Awaited<ReturnType<NonNullable<VerifierComponents["verifyTrace"]>>>;
    try {
      verdict = await this.#components.verifyTrace(spec, seg.segment, trace, frames, {
        providers: seg.multiaddrs,
        acceptedBefore: this.#acceptedTraces.get(provider) ?? 0,
        signal: options.signal,
      });
    } catch (cause) {
      options.signal?.throwIfAborted();
      // Blocks that cannot be fetched now may be fetched later: retryable, like the segment's own fetch.
      throw new CheckFailed("fetch", `The render trace cannot be fetched: ${firstLine(cause)}`, true);
    }
    timings.renderMs = performance.now() - t;
    if (!verdict.ok) {
      // Caught once, new again: its next NEW_PROVIDER_SEGMENTS accepted segments here get NEW_PROVIDER_STEPS steps
      // each, so a provider that cheats now and then (the disguised skip escapes k steps with about 2^-k) is
      // caught on nearly every later attempt instead of on 1 − 2^-k of them.
      this.#acceptedTraces.delete(provider);
      throw new CheckFailed("content", `Committed-step check "${verdict.check}" failed: ${verdict.reason}`);
    }
    this.#acceptedTraces.set(provider, (this.#acceptedTraces.get(provider) ?? 0) + 1);
    timings.totalMs = performance.now() - started;
    const { firstFrame } = segmentFrames(spec, seg.segment);
    return {
      ok: true,
      bytes,
      psnrDb: Infinity,
      framePsnrDb: [],
      sampledFrames: verdict.steps.map(() => firstFrame),
      sampledPixels: 0,
      timings,
    };
  }

  /** The receipt's fields and both signatures: the assignment by the job's coordinator, the delivery by the assigned provider. */
  #checkReceipt(job: VerifyJob, seg: DeliveredSegment): void {
    const { assignment: a } = seg.assignment;
    const { delivery: d } = seg.delivery;
    const jobId = lower(job.jobId);
    if (seg.segment < 0 || seg.segment >= job.spec.seconds)
      throw new CheckFailed("signature", `Segment ${seg.segment} is outside the job.`);
    if (lower(a.jobId) !== jobId || lower(d.jobId) !== jobId)
      throw new CheckFailed("signature", "The assignment or receipt names another job.");
    if (a.segment !== seg.segment || d.segment !== seg.segment)
      throw new CheckFailed("signature", `The assignment or receipt is for another segment than ${seg.segment}.`);
    const { firstFrame, frameCount } = segmentFrames(job.spec, seg.segment);
    if (a.firstFrame !== firstFrame || a.frameCount !== frameCount) {
      throw new CheckFailed("signature", `The assignment covers frames ${a.firstFrame}+${a.frameCount}, not ${firstFrame}+${frameCount}.`);
    }
    if (d.frameCount !== frameCount) throw new CheckFailed("frames", `The receipt claims ${d.frameCount} frames, not ${frameCount}.`);

    let coordinator: string;
    let provider: string;
    try {
      coordinator = this.#components.recoverAssignmentSigner(job.chainId, job.escrow, seg.assignment, job.coordinator);
    } catch (cause) {
      throw new CheckFailed("signature", `The assignment's signature does not recover: ${firstLine(cause)}`);
    }
    if (lower(coordinator) !== lower(job.coordinator)) {
      throw new CheckFailed("signature", `The assignment is signed by ${coordinator}, not by the job's coordinator ${job.coordinator}.`);
    }
    try {
      provider = this.#components.recoverDeliverySigner(job.chainId, job.escrow, seg.delivery, a.provider);
    } catch (cause) {
      throw new CheckFailed("signature", `The receipt's signature does not recover: ${firstLine(cause)}`);
    }
    if (lower(provider) !== lower(a.provider)) {
      throw new CheckFailed("signature", `The receipt is signed by ${provider}, not by the assigned provider ${a.provider}.`);
    }
  }

  async #fetch(seg: DeliveredSegment, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.#fetchAttempts; attempt++) {
      signal?.throwIfAborted();
      const attemptSignal = signal
        ? AbortSignal.any([signal, AbortSignal.timeout(this.#fetchTimeoutMs)])
        : AbortSignal.timeout(this.#fetchTimeoutMs);
      try {
        return await this.#components.fetch(seg.delivery.delivery.cid, { providers: seg.multiaddrs, signal: attemptSignal });
      } catch (err) {
        signal?.throwIfAborted();
        last = err;
        if (attempt < this.#fetchAttempts) await sleep(this.#fetchBackoffMs * 2 ** (attempt - 1), signal);
      }
    }
    throw new CheckFailed(
      "fetch",
      `Segment ${seg.delivery.delivery.cid} could not be fetched from the provider after ${this.#fetchAttempts} attempts: ${firstLine(last)}`,
      true,
    );
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err);
  return (text.split("\n")[0] ?? "").slice(0, 300);
}
