import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Wallet } from "ethers";
import { type JobSpec } from "@rendermesh/shared";
import { encodeSegment } from "@rendermesh/shared/media";
import {
  createSpotRenderer,
  defaultModel,
  defaultPipelinePath,
  encodeTrace,
  loadPipeline,
  PipelineRunner,
  publishTrace,
  quantiseWeights,
  NEW_PROVIDER_SEGMENTS,
  NEW_PROVIDER_STEPS,
  traceStepsFor,
  type Pipeline,
  type SpotRenderer,
} from "@rendermesh/shared/model";

import { defaultVerifierComponents } from "../src/verify/components.js";
import { SegmentVerifier } from "../src/verify/verifier.js";
import type { VerifyJob, VerifyResult } from "../src/verify/types.js";
import { deliveredSegment } from "./support/segments.js";

// The client's verification of a diffusion pipeline's segment, with the real
// trained pipeline, ONNX Runtime, ffmpeg and EIP-712; only IPFS is an
// in-memory block map (the provider-node test fetches over Helia/bitswap).

const silent = { info() {}, warn() {} };
const blocks = new Map<string, Uint8Array>();
const store = {
  async get(cid: { toString(): string }) {
    const b = blocks.get(cid.toString());
    if (!b) throw new Error(`no segment ${cid.toString()}`);
    return b;
  },
  async getBlock(cid: { toString(): string }) {
    const b = blocks.get(cid.toString());
    if (!b) throw new Error(`no block ${cid.toString()}`);
    return b;
  },
  async put(cid: { toString(): string }, bytes: Uint8Array) {
    blocks.set(cid.toString(), bytes);
  },
};

let pipeline: Pipeline;
let provider: PipelineRunner;
let cheat: PipelineRunner;
let client: PipelineRunner;
let spot: SpotRenderer;
let spec: JobSpec;
let ctx: Parameters<typeof deliveredSegment>[0];
let job: VerifyJob;

beforeAll(async () => {
  pipeline = await loadPipeline(defaultPipelinePath());
  provider = await PipelineRunner.create({ pipeline, device: "cpu", threads: 2, logger: silent });
  cheat = await PipelineRunner.create({
    pipeline: { ...pipeline, files: { ...pipeline.files, denoiser: quantiseWeights(pipeline.files.denoiser, 255) } },
    device: "cpu",
    threads: 1,
    logger: silent,
  });
  client = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, guidanceBatch: 1, logger: silent });
  spot = await createSpotRenderer({ models: [defaultModel()] });
  const v = pipeline.manifest.video;
  spec = {
    v: 1,
    model: pipeline.manifest.id,
    prompt: "a green triangle moving down on a white background",
    seed: 99,
    seconds: 3,
    fps: v.fps,
    width: v.width,
    height: v.height,
  };
  const coordinator = Wallet.createRandom();
  ctx = {
    chainId: 31337,
    escrow: `0x${"ee".repeat(20)}`,
    jobId: `0x${"12".repeat(32)}`,
    spec,
    coordinator,
    provider: Wallet.createRandom(),
  };
  job = { jobId: ctx.jobId, spec, chainId: ctx.chainId, escrow: ctx.escrow, coordinator: coordinator.address };
});

afterAll(async () => {
  await Promise.allSettled([provider?.close(), cheat?.close(), client?.close(), spot?.close()]);
});

const verifier = (acceptedTraces?: ReadonlyMap<string, number>) =>
  new SegmentVerifier(
    defaultVerifierComponents({ store: store as never, spot, pipelines: new Map([[pipeline.manifest.id.toLowerCase(), client]]) }),
    { fetchAttempts: 1, fetchTimeoutMs: 1000, acceptedTraces },
  );

async function deliver(
  runner: PipelineRunner,
  segment: number,
  opts: { withTrace?: boolean; publish?: boolean; acceptedTraces?: ReadonlyMap<string, number>; using?: SegmentVerifier } = {},
): Promise<VerifyResult> {
  const gen = await runner.generate({ prompt: spec.prompt, seed: spec.seed, segment });
  const mp4 = await encodeSegment(gen.frames, { width: spec.width, height: spec.height, fps: spec.fps });
  const encoded = await encodeTrace(gen.trace);
  if (opts.publish ?? true) await publishTrace(encoded, store);
  const d = await deliveredSegment(ctx, segment, mp4, opts.withTrace === false ? {} : { trace: encoded.root.toString() });
  blocks.set(d.cid, mp4);
  return (opts.using ?? verifier(opts.acceptedTraces)).verify(job, d);
}

describe("SegmentVerifier on a diffusion pipeline", () => {
  test("default: an honest segment (other thread count and guidance batch than the client) passes by committed steps", async () => {
    const r = await deliver(provider, 1);
    expect(r.ok, r.ok ? "" : r.failure.message).toBe(true);
    // A provider this verifier has not accepted before gets more steps re-executed than the manifest's k.
    if (r.ok) expect(r.sampledFrames).toHaveLength(NEW_PROVIDER_STEPS);
  });

  test("default: steps per check fall to the manifest's k once a provider has a history of accepted segments", () => {
    const k = pipeline.manifest.verification.stepsPerCheck;
    expect(k).toBeLessThan(NEW_PROVIDER_STEPS);
    expect(traceStepsFor(pipeline.manifest, 0)).toBe(NEW_PROVIDER_STEPS);
    expect(traceStepsFor(pipeline.manifest, NEW_PROVIDER_SEGMENTS - 1)).toBe(NEW_PROVIDER_STEPS);
    expect(traceStepsFor(pipeline.manifest, NEW_PROVIDER_SEGMENTS)).toBe(k);
  });

  test("behavior: a provider with a history given at construction is checked with the manifest's k from its first segment here", async () => {
    // Addresses are compared in lower case, whatever case the history gives.
    const known = new Map([[ctx.provider.address.toUpperCase().replace(/^0X/, "0x"), NEW_PROVIDER_SEGMENTS]]);
    const r = await deliver(provider, 1, { acceptedTraces: known });
    expect(r.ok, r.ok ? "" : r.failure.message).toBe(true);
    if (r.ok) expect(r.sampledFrames).toHaveLength(pipeline.manifest.verification.stepsPerCheck);
    // One short of the history a provider needs: still new.
    const almost = await deliver(provider, 1, { acceptedTraces: new Map([[ctx.provider.address, NEW_PROVIDER_SEGMENTS - 1]]) });
    expect(almost.ok).toBe(true);
    if (almost.ok) expect(almost.sampledFrames).toHaveLength(NEW_PROVIDER_STEPS);
    expect(() => verifier(new Map([[ctx.provider.address, Number.NaN]]))).toThrow(RangeError);
  });

  test("behavior: a provider caught once is new again: its next segments get NEW_PROVIDER_STEPS steps, whatever its history", async () => {
    const v = verifier(new Map([[ctx.provider.address, 5 * NEW_PROVIDER_SEGMENTS]]));
    const before = await deliver(provider, 1, { using: v });
    if (before.ok) expect(before.sampledFrames).toHaveLength(pipeline.manifest.verification.stepsPerCheck);
    expect(before.ok).toBe(true);
    const caught = await deliver(cheat, 2, { using: v });
    expect(caught.ok ? undefined : caught.failure).toMatchObject({ check: "content", retryable: false });
    const after = await deliver(provider, 1, { using: v });
    expect(after.ok).toBe(true);
    if (after.ok) expect(after.sampledFrames).toHaveLength(NEW_PROVIDER_STEPS);
  });

  test("error: int8-rounded weights behind the committed model's id fail the content check at the denoiser", async () => {
    const r = await deliver(cheat, 2);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.failure).toMatchObject({ check: "content", retryable: false, message: expect.stringMatching(/denoiser/) });
  });

  test("error: a receipt without a trace fails; a trace nobody serves is a retryable fetch failure", async () => {
    const none = await deliver(provider, 0, { withTrace: false });
    expect(none.ok ? undefined : none.failure).toMatchObject({ check: "content", retryable: false });
    const unserved = await deliver(provider, 2, { publish: false });
    expect(unserved.ok ? undefined : unserved.failure).toMatchObject({ check: "fetch", retryable: true });
  });
});
