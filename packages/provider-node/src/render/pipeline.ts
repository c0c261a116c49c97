import { createHash } from "node:crypto";
import type { DeliveryFields, JobSpec } from "@rendermesh/shared";
import { TraceCommitter, type Generation, type TraceBlockStore } from "@rendermesh/shared/model";
import { SegmentPipelineError } from "../errors.js";

/**
 * One segment, start to finish: render frames → pipe them into the encoder
 * (no frame touches the disk) → embed the provider's Content Credentials
 * (C2PA) → sha256 of the MP4 → add and pin to IPFS → sign the EIP-712
 * Delivery. Each stage is a narrow injected component, so
 * the same pipeline runs over ONNX Runtime + ffmpeg + Helia in production
 * and over stubs in unit tests.
 */

/** The renderer's side, as `@rendermesh/shared`'s `Renderer.renderFrames` offers it. */
export interface FrameSource {
  renderFrames(options: {
    spec: Pick<JobSpec, "prompt" | "seed" | "fps" | "width" | "height">;
    firstFrame: number;
    frameCount: number;
    signal?: AbortSignal | undefined;
  }): AsyncIterable<Uint8Array>;
  /**
   * Present for a diffusion pipeline: renders the segment as one clip and
   * returns its frames with the trace of every denoising step.
   */
  renderSegment?(options: {
    spec: Pick<JobSpec, "prompt" | "seed" | "fps" | "width" | "height">;
    firstFrame: number;
    frameCount: number;
    signal?: AbortSignal | undefined;
    /** Each tensor of the trace as soon as it is final, so the trace is committed while the clip renders. */
    onTensor?: ((data: Float32Array) => void) | undefined;
  }): Promise<Generation>;
}

export interface EncodeOptions {
  width: number;
  height: number;
  fps: number;
  signal?: AbortSignal | undefined;
}

/** Consumes RGB24 frames and returns the MP4 bytes of one segment. */
export type SegmentEncoder = (frames: AsyncIterable<Uint8Array>, options: EncodeOptions) => Promise<Uint8Array>;

/** Adds bytes to IPFS, pinned, and returns their CIDv1 string. */
export interface SegmentSink {
  put(bytes: Uint8Array, options?: { signal?: AbortSignal | undefined }): Promise<string>;
}

export interface PipelineComponents {
  renderer: FrameSource;
  encode: SegmentEncoder;
  store: SegmentSink;
  signDelivery(delivery: DeliveryFields): Promise<`0x${string}`>;
  /** Embeds the provider's Content Credentials in the encoded segment (before it is hashed); none when absent. */
  credential?: ((mp4: Uint8Array, work: SegmentWork) => Promise<Uint8Array>) | undefined;
  /** Where a pipeline's trace blocks go (pinned, served over bitswap); needed when the renderer has `renderSegment`. */
  traces?: TraceBlockStore | undefined;
}

export interface SegmentWork {
  jobId: `0x${string}`;
  segment: number;
  spec: JobSpec;
  firstFrame: number;
  frameCount: number;
}

/** Typed progress of one segment, in the style of Helia's progress events. */
export type SegmentProgressEvent =
  | { type: "render:frame"; framesDone: number; frameCount: number }
  | { type: "encode:done"; bytes: number }
  | { type: "credential:done"; bytes: number }
  | { type: "hash:done"; sha256: `0x${string}` }
  | { type: "store:done"; cid: string }
  | { type: "trace:done"; root: string; blocks: number }
  | { type: "sign:done" };

export interface ProduceSegmentOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((event: SegmentProgressEvent) => void) | undefined;
  /**
   * Called once, as soon as the renderer has produced the segment's last
   * frame: what is left (the encoder's tail, hash, pin, trace, sign) does not
   * need the renderer, so the render service starts the next segment's
   * render then (see `RenderOverlap`). Not called when the render fails.
   */
  onRendered?: (() => void) | undefined;
}

export interface ProducedSegment {
  delivery: DeliveryFields;
  signature: `0x${string}`;
  bytes: number;
  /** Wall time of each stage, milliseconds. */
  timings: SegmentTimings;
}

/**
 * Where a segment's wall time went, milliseconds. Render and encode overlap
 * (frames stream into ffmpeg as they come), and a pipeline's trace is
 * committed while the clip is encoded, hashed and stored, so the stages do
 * not add up to the total.
 */
export interface SegmentTimings {
  /** From the first frame asked for to the encoded MP4 in hand. */
  renderEncode: number;
  /** Of `renderEncode`, the time spent waiting on the renderer (inference and tensor → frame conversion). */
  render: number;
  /** Of `renderEncode`, the rest: writing frames to ffmpeg and its finish after the last frame. */
  encode: number;
  credential: number;
  hash: number;
  store: number;
  /** Storing the trace after the render (diffusion pipelines; 0 otherwise): the root and the steps' blocks still in flight, overlapped with encode, hash and store. */
  trace: number;
  /** Of `trace`, the part that was not hidden behind the other stages (signing waited for it). */
  traceWait: number;
  sign: number;
  total: number;
}

/** Counts frames as they flow to the encoder, checks their size and adds the time spent waiting for each to `waited.ms`. */
async function* counted(
  frames: AsyncIterable<Uint8Array>,
  work: SegmentWork,
  onFrame: (done: number) => void,
  waited: { ms: number },
  onRendered?: () => void,
): AsyncGenerator<Uint8Array> {
  const expected = work.spec.width * work.spec.height * 3;
  let done = 0;
  const it = frames[Symbol.asyncIterator]();
  for (;;) {
    const asked = performance.now();
    const next = await it.next();
    waited.ms += performance.now() - asked;
    if (next.done) {
      if (done === work.frameCount) onRendered?.();
      break;
    }
    const frame = next.value;
    if (frame.byteLength !== expected) {
      throw new SegmentPipelineError(
        `The renderer produced a ${frame.byteLength}-byte frame; ${work.spec.width}x${work.spec.height} RGB24 is ${expected} bytes.`,
      );
    }
    done++;
    yield frame;
    onFrame(done);
  }
  if (done !== work.frameCount) {
    throw new SegmentPipelineError(`The renderer produced ${done} frames of segment ${work.segment}; ${work.frameCount} were asked for.`);
  }
}

/** Renders, encodes, hashes, stores and signs one segment. */
export async function produceSegment(
  work: SegmentWork,
  c: PipelineComponents,
  options: ProduceSegmentOptions = {},
): Promise<ProducedSegment> {
  const { signal, onProgress, onRendered } = options;
  const t0 = performance.now();
  const waited = { ms: 0 };
  let generation: Generation | undefined;
  let frames: AsyncIterable<Uint8Array>;
  // A pipeline's trace does not depend on the video: its blocks are hashed and stored as the denoiser makes them
  // (overlapping the next steps), and the root once the clip is done, while it is encoded, hashed and stored.
  // It is awaited before signing, so the receipt still binds the provider to every step.
  const committer = c.renderer.renderSegment && c.traces ? new TraceCommitter(c.traces, { signal }) : undefined;
  let traceMs = 0;
  let tracing: Promise<{ root: string; blocks: number }> | undefined;
  if (c.renderer.renderSegment) {
    if (!committer) throw new SegmentPipelineError("This model commits a render trace, but the node has no block store for it.");
    try {
      generation = await c.renderer.renderSegment({
        spec: work.spec,
        firstFrame: work.firstFrame,
        frameCount: work.frameCount,
        signal,
        onTensor: (data) => committer.add(data),
      });
    } catch (err) {
      await committer.settled(); // no write of a failed render is left running behind the error
      throw err;
    }
    waited.ms = performance.now() - t0;
    onRendered?.();
    const finishing = performance.now();
    tracing = committer.finish(generation.trace).then(({ root, blocks }) => {
      traceMs = performance.now() - finishing;
      return { root: root.toString(), blocks };
    });
    tracing.catch(() => {}); // awaited below; an early failure elsewhere must not leave it "unhandled"
    frames = (async function* () {
      yield* (generation as Generation).frames;
    })();
  } else {
    frames = c.renderer.renderFrames({ spec: work.spec, firstFrame: work.firstFrame, frameCount: work.frameCount, signal });
  }
  try {
    const encoded = await c.encode(
      counted(
        frames,
        work,
        (framesDone) => onProgress?.({ type: "render:frame", framesDone, frameCount: work.frameCount }),
        waited,
        // A pipeline's clip is rendered before its frames reach the encoder (called above).
        generation ? undefined : onRendered,
      ),
      { width: work.spec.width, height: work.spec.height, fps: work.spec.fps, signal },
    );
    if (encoded.byteLength === 0) throw new SegmentPipelineError(`Encoding segment ${work.segment} produced no bytes.`);
    onProgress?.({ type: "encode:done", bytes: encoded.byteLength });
    const t1 = performance.now();
    signal?.throwIfAborted();
    const mp4 = c.credential ? await c.credential(encoded, work) : encoded;
    if (c.credential) onProgress?.({ type: "credential:done", bytes: mp4.byteLength });
    const t2 = performance.now();

    const sha256 = `0x${createHash("sha256").update(mp4).digest("hex")}` as const;
    onProgress?.({ type: "hash:done", sha256 });
    const t3 = performance.now();

    signal?.throwIfAborted();
    const cid = await c.store.put(mp4, { signal });
    onProgress?.({ type: "store:done", cid });
    const t4 = performance.now();

    let trace: string | undefined;
    if (tracing) {
      // Committed before signing: the receipt binds the provider to every step, before any verifier picks which to check.
      const committed = await tracing;
      trace = committed.root;
      onProgress?.({ type: "trace:done", root: committed.root, blocks: committed.blocks });
    }
    const t5 = performance.now();
    const delivery: DeliveryFields = {
      jobId: work.jobId,
      segment: work.segment,
      cid,
      sha256,
      frameCount: work.frameCount,
      ...(trace ? { trace } : {}),
    };
    const signature = await c.signDelivery(delivery);
    onProgress?.({ type: "sign:done" });
    const t6 = performance.now();

    return {
      delivery,
      signature,
      bytes: mp4.byteLength,
      timings: {
        renderEncode: t1 - t0,
        render: waited.ms,
        encode: t1 - t0 - waited.ms,
        credential: t2 - t1,
        hash: t3 - t2,
        store: t4 - t3,
        trace: traceMs,
        traceWait: t5 - t4,
        sign: t6 - t5,
        total: t6 - t0,
      },
    };
  } finally {
    // On any failure, let a trace commit in flight finish (or fail on the abort) before the error goes up.
    if (tracing) await tracing.catch(() => {});
  }
}
