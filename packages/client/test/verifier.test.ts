import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Wallet } from "ethers";
import type { JobSpec } from "@rendermesh/shared";
import { defaultModel } from "@rendermesh/shared/model";
import { decodeSampled, decodeSegment, encodeSegment } from "@rendermesh/shared/media";
import { createSpotRenderer, type SpotRenderer } from "@rendermesh/shared/model";
import { defaultVerifierComponents } from "../src/verify/components.js";
import { SegmentVerifier } from "../src/verify/verifier.js";
import { DEFAULT_PSNR_THRESHOLD_DB } from "../src/verify/constants.js";
import type { VerifyJob, VerifyResult } from "../src/verify/types.js";
import { closeRenderer, deliveredSegment, honestSegment, renderFrames, type ReceiptOptions } from "./support/segments.js";

// Real segments: rendered with the ONNX model, encoded with ffmpeg, signed
// with EIP-712 and decoded again. Only the IPFS store is an in-memory map
// here (the job tests fetch over real Helia/bitswap).

const model = defaultModel();
const spec: JobSpec = {
  v: 1,
  model: model.manifest.id as `0x${string}`,
  prompt: "a calm blue sea at night",
  seed: 7,
  seconds: 3,
  fps: 4,
  width: 32,
  height: 32,
};
const coordinator = Wallet.createRandom();
const provider = Wallet.createRandom();
const ctx = { chainId: 31337, escrow: `0x${"ee".repeat(20)}`, jobId: `0x${"11".repeat(32)}` as `0x${string}`, spec, coordinator, provider };
const job: VerifyJob = { jobId: ctx.jobId, spec, chainId: ctx.chainId, escrow: ctx.escrow, coordinator: coordinator.address };

const store = new Map<string, Uint8Array>();
const memoryStore = {
  async get(cid: { toString(): string }, options: { signal?: AbortSignal } = {}) {
    const bytes = store.get(cid.toString());
    if (bytes) return bytes;
    // Like bitswap for a CID nobody has: wait until the deadline.
    await new Promise((_, reject) =>
      options.signal?.addEventListener("abort", () => reject(new Error("block not found before the deadline")), { once: true }),
    );
    throw new Error("unreachable");
  },
};

let spot: SpotRenderer;
let honest: Uint8Array[];

function verifier(init: ConstructorParameters<typeof SegmentVerifier>[1] = {}): SegmentVerifier {
  return new SegmentVerifier(defaultVerifierComponents({ store: memoryStore as never, spot }), {
    fetchTimeoutMs: 300,
    fetchAttempts: 2,
    fetchBackoffMs: 10,
    ...init,
  });
}

async function check(segment: number, bytes: Uint8Array, opts: ReceiptOptions = {}, v = verifier()): Promise<VerifyResult> {
  const d = await deliveredSegment(ctx, segment, bytes, opts);
  store.set(d.cid, bytes);
  return v.verify(job, d);
}

function failed(r: VerifyResult) {
  if (r.ok) throw new Error(`expected a failure, got ok (PSNR ${r.psnrDb})`);
  return r.failure;
}

beforeAll(async () => {
  spot = await createSpotRenderer({ models: [model] });
  honest = await Promise.all([0, 1, 2].map((i) => honestSegment(spec, i)));
});

afterAll(async () => {
  await spot?.close();
  await closeRenderer();
});

describe("SegmentVerifier", () => {
  test("default: an honest segment passes every check", async () => {
    const r = await check(1, honest[1]!);
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.psnrDb).toBeGreaterThanOrEqual(DEFAULT_PSNR_THRESHOLD_DB);
    expect(r.sampledFrames).toHaveLength(3);
    for (const f of r.sampledFrames) expect(f >= 4 && f < 8).toBe(true);
    expect(r.bytes).toEqual(honest[1]);
  });

  test("behavior: every frame of every honest segment passes when all pixels of all frames are compared", async () => {
    const v = verifier({ sampledFrames: spec.fps, pixelFraction: 1 });
    for (let i = 0; i < spec.seconds; i++) {
      const r = await check(i, honest[i]!, {}, v);
      expect(r.ok, r.ok ? "" : r.failure.message).toBe(true);
      if (r.ok) expect(r.framePsnrDb).toHaveLength(spec.fps);
    }
  });

  test("error: a CID nobody serves fails the fetch check (retryable)", async () => {
    const d = await deliveredSegment(ctx, 0, honest[0]!, { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" });
    const f = failed(await verifier().verify(job, d));
    expect(f.check).toBe("fetch");
    expect(f.retryable).toBe(true);
  });

  test("error: bytes whose sha256 differs from the receipt fail the sha256 check", async () => {
    const f = failed(await check(0, honest[0]!, { sha256: `0x${"ab".repeat(32)}` }));
    expect(f).toMatchObject({ check: "sha256", retryable: false });
  });

  test("error: a truncated video fails to decode or has too few frames", async () => {
    const bytes = honest[2]!.slice(0, Math.floor(honest[2]!.length / 2));
    const f = failed(await check(2, bytes));
    expect(["decode", "frames"]).toContain(f.check);
    expect(f.retryable).toBe(false);
  });

  test("error: a segment with one frame missing fails the frames check", async () => {
    const bytes = await encodeSegment(await renderFrames(spec, 4, 3), spec);
    const f = failed(await check(1, bytes, { frameCount: 4 }));
    expect(f.check).toBe("frames");
    expect(f.message).toMatch(/3 frames, expected 4/);
  });

  test("error: a segment of the wrong size fails the frames check", async () => {
    const big = { ...spec, width: 64, height: 64 };
    const bytes = await encodeSegment(await renderFrames(big, 0, 4), big);
    const f = failed(await check(0, bytes));
    expect(f.check).toBe("frames");
    expect(f.message).toMatch(/64x64, expected 32x32/);
  });

  test("error: frames of another seed fail the content check", async () => {
    const bytes = await encodeSegment(await renderFrames({ ...spec, seed: 8 }, 4, 4), spec);
    const f = failed(await check(1, bytes));
    expect(f.check).toBe("content");
    expect(f.message).toMatch(/PSNR .* below/);
  });

  test("error: frames of another prompt fail the content check", async () => {
    const bytes = await encodeSegment(await renderFrames({ ...spec, prompt: "a fast red storm over the desert" }, 8, 4), spec);
    expect(failed(await check(2, bytes)).check).toBe("content");
  });

  test("error: the right frames of another second fail the content check", async () => {
    // Segment 2's frames delivered as segment 1.
    expect(failed(await check(1, honest[2]!)).check).toBe("content");
  });

  test("error: one wrong frame in a segment is caught when it is sampled", async () => {
    const frames = await renderFrames(spec, 4, 4);
    frames[2] = (await renderFrames({ ...spec, seed: 99 }, 6, 1))[0]!;
    const bytes = await encodeSegment(frames, spec);
    // Sample every frame: the wrong one is always among them.
    const f = failed(await check(1, bytes, {}, verifier({ sampledFrames: 4 })));
    expect(f.check).toBe("content");
    expect(f.message).toMatch(/^Frame 6 /);
  });

  test("error: an assignment not signed by the job's coordinator fails the signature check", async () => {
    const f = failed(await check(0, honest[0]!, { assignmentSigner: Wallet.createRandom() }));
    expect(f.check).toBe("signature");
    expect(f.message).toMatch(/not by the job's coordinator/);
  });

  test("error: a receipt not signed by the assigned provider fails the signature check", async () => {
    const f = failed(await check(0, honest[0]!, { receiptSigner: Wallet.createRandom() }));
    expect(f.check).toBe("signature");
    expect(f.message).toMatch(/not by the assigned provider/);
  });

  test("error: a receipt for another segment fails the signature check", async () => {
    expect(failed(await check(0, honest[0]!, { receiptSegment: 1 })).check).toBe("signature");
  });

  test("error: the client's own renderer failing is thrown, never blamed on the provider", async () => {
    const noModel = await createSpotRenderer({ models: [] });
    const v = new SegmentVerifier(defaultVerifierComponents({ store: memoryStore as never, spot: noModel }));
    const d = await deliveredSegment(ctx, 0, honest[0]!);
    store.set(d.cid, honest[0]!);
    await expect(v.verify(job, d)).rejects.toMatchObject({ name: "ModelUnavailableError" });
  });

  test("behavior: the one-pass sampled decode gives exactly shared/media's frames", async () => {
    const all = await decodeSegment(honest[0]!, spec);
    const { info, frames } = await decodeSampled(honest[0]!, new Set([0, 3]));
    expect(info).toMatchObject({ width: 32, height: 32, fps: 4, frames: 4 });
    expect([...frames.keys()]).toEqual([0, 3]);
    expect(frames.get(0)).toEqual(all[0]);
    expect(frames.get(3)).toEqual(all[3]);
  });

  test("behavior: frames are sampled at random after delivery", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await check(0, honest[0]!);
      if (r.ok) seen.add(r.sampledFrames.join(","));
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});
