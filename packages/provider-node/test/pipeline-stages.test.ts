// produceSegment's seams for speed: the trace is committed from the tensors
// the renderer hands over while it renders (and still signed as one root),
// and each stage's time is reported. Stub components: no ONNX, ffmpeg or IPFS.
import { encodeTrace, MemoryTraceStore, type PipelineTrace } from "@rendermesh/shared/model";
import type { JobSpec } from "@rendermesh/shared";
import { describe, expect, test } from "vitest";
import { produceSegment, type PipelineComponents } from "../src/render/pipeline.js";

const spec: JobSpec = { v: 1, model: `0x${"11".repeat(32)}`, prompt: "p", seed: 3, seconds: 1, fps: 2, width: 2, height: 2 };
const work = { jobId: `0x${"42".repeat(32)}` as const, segment: 0, spec, firstFrame: 0, frameCount: 2 };

function fakeTrace(): PipelineTrace {
  const t = (v: number) => Float32Array.of(v, v + 0.5);
  return {
    pipeline: `0x${"22".repeat(32)}`,
    seed: 3,
    segment: 0,
    guidance: 2,
    latentDims: [1, 1, 1, 1, 2],
    text: { dims: [1, 2], cond: t(1), uncond: t(2) },
    steps: [
      { t: 1000, latent: t(3), cond: t(4), uncond: t(5) },
      { t: 500, latent: t(6), cond: t(7), uncond: t(8) },
    ],
    final: t(9),
  };
}

function components(trace: PipelineTrace, store: MemoryTraceStore, order: string[]): PipelineComponents {
  const frame = new Uint8Array(2 * 2 * 3);
  return {
    renderer: {
      renderFrames: () => {
        throw new Error("a pipeline renders whole segments");
      },
      async renderSegment(o) {
        // Hand over tensors as a runner does, step by step, before the render returns.
        for (const d of [trace.text.cond, trace.text.uncond!, ...trace.steps.flatMap((s) => [s.latent, s.cond, s.uncond!])])
          o.onTensor?.(d);
        order.push("rendered");
        return { frames: [frame, frame], trace };
      },
    },
    encode: async (frames) => {
      for await (const _ of frames) void _;
      order.push("encoded");
      return Uint8Array.of(1, 2, 3);
    },
    store: { put: async () => "bafkqaaa" },
    signDelivery: async () => {
      order.push(`signed with ${store.blocks.size} blocks stored`);
      return "0xsig";
    },
    traces: store,
  };
}

describe("produceSegment stages", () => {
  test("default: the trace's blocks are stored before signing and its root is the one encodeTrace gives", async () => {
    const trace = fakeTrace();
    const store = new MemoryTraceStore();
    const order: string[] = [];
    const out = await produceSegment(work, components(trace, store, order));
    const expected = await encodeTrace(trace);
    expect(out.delivery.trace).toBe(expected.root.toString());
    expect([...store.blocks.keys()].sort()).toEqual([...expected.blocks.keys()].sort());
    expect(order).toEqual(["rendered", "encoded", `signed with ${expected.blocks.size} blocks stored`]);
  });

  test("behavior: every stage's time is reported, render and encode within renderEncode", async () => {
    const out = await produceSegment(work, components(fakeTrace(), new MemoryTraceStore(), []));
    const t = out.timings;
    for (const key of ["renderEncode", "render", "encode", "credential", "hash", "store", "trace", "traceWait", "sign", "total"] as const) {
      expect(t[key], key).toBeGreaterThanOrEqual(0);
    }
    expect(t.render + t.encode).toBeCloseTo(t.renderEncode, 6);
    expect(t.total).toBeGreaterThanOrEqual(t.renderEncode);
  });

  test("error: a trace block the store refuses fails the segment before it is signed", async () => {
    const order: string[] = [];
    const store = new MemoryTraceStore();
    store.put = async () => {
      throw new Error("blockstore is read-only");
    };
    await expect(produceSegment(work, components(fakeTrace(), store, order))).rejects.toThrow("blockstore is read-only");
    expect(order.some((o) => o.startsWith("signed"))).toBe(false);
  });
});
