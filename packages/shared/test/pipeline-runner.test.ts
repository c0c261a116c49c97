import { describe, expect, it } from "vitest";
import { ModelIntegrityError, ModelLoadError } from "../src/model/errors.js";
import { assemblePipeline } from "../src/model/pipeline/load.js";
import { AnyModelManifest, parseAnyManifest, pipelineId, PipelineManifest } from "../src/model/pipeline/manifest.js";
import { segmentNoise } from "../src/model/pipeline/noise.js";
import { PipelineRunner } from "../src/model/pipeline/runner.js";
import { createScheduler, FlowMatchEulerScheduler } from "../src/model/pipeline/scheduler.js";
import { defaultModel } from "../src/model/default-model.js";
import { alphaPipeline, betaPipeline } from "./pipeline-fixtures.js";

const silent = { info() {}, warn() {} };

describe("pipeline manifest", () => {
  it("gives an id that is the sha256 of the canonical manifest, independent of key order and of the id field", () => {
    const { manifest } = alphaPipeline();
    const reordered = Object.fromEntries(Object.entries(manifest).reverse());
    expect(pipelineId(reordered as never)).toBe(manifest.id);
    const { id: _id, ...noId } = manifest;
    expect(pipelineId(noId)).toBe(manifest.id);
    expect(pipelineId({ ...noId, version: "0.0.2" })).not.toBe(manifest.id);
  });

  it("parses both families and tags a field manifest without `family` as a neural field", () => {
    expect(parseAnyManifest(defaultModel().manifest).family).toBe("neural-field");
    expect(AnyModelManifest.parse(alphaPipeline().manifest).family).toBe("diffusion-pipeline");
    expect(() => PipelineManifest.parse({ ...alphaPipeline().manifest, scheduler: { type: "ddim" } })).toThrow();
  });

  it("refuses a component whose bytes are not the sha256 the manifest names", () => {
    const { manifest, files } = alphaPipeline();
    expect(() => assemblePipeline(manifest, { ...files, denoiser: files.textEncoder })).toThrow(ModelIntegrityError);
    expect(() => assemblePipeline({ ...manifest, id: `0x${"0".repeat(64)}` }, files)).toThrow(ModelIntegrityError);
    expect(() => assemblePipeline({ ...manifest, opset: 3 }, files)).toThrow(ModelLoadError);
  });
});

describe("segment noise", () => {
  it("is a fixed function of (job seed, segment): same bits each time, different per segment and seed", () => {
    const a = segmentNoise(42, 3, 4096);
    expect(Buffer.from(a.buffer).equals(Buffer.from(segmentNoise(42, 3, 4096).buffer))).toBe(true);
    expect(a[0]).not.toBe(segmentNoise(42, 4, 1)[0]);
    expect(a[0]).not.toBe(segmentNoise(43, 3, 1)[0]);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(Math.abs(variance - 1)).toBeLessThan(0.08);
    // A pinned value: the stream must never change, or every committed trace breaks.
    expect(Array.from(segmentNoise(7, 0, 3))).toMatchSnapshot();
  });
});

describe("flow-match Euler scheduler", () => {
  it("runs from sigma 1 to 0 with the shift, and steps x + (σ' − σ)·v", () => {
    const s = new FlowMatchEulerScheduler({
      type: "flow-match-euler",
      numTrainTimesteps: 1000,
      shift: 3,
      predictionType: "flow",
      solverOrder: 1,
      stochastic: false,
    });
    s.setTimesteps(4);
    expect(s.sigmas[0]).toBe(1);
    expect(s.sigmas.at(-1)).toBe(0);
    expect(s.timesteps).toHaveLength(4);
    expect(s.sigmas[2]).toBeCloseTo((3 * 0.5) / (1 + 2 * 0.5), 6);
    const x = Float32Array.from([1, 2]);
    const v = Float32Array.from([0.5, -1]);
    const next = s.step(v, s.timesteps[0] as number, x);
    const dt = Math.fround((s.sigmas[1] as number) - 1);
    expect(next[0]).toBe(Math.fround(1 + Math.fround(dt * 0.5)));
    expect(() => s.step(v, 12.5, x)).toThrow(/not in the schedule/);
    expect(createScheduler(s.config)).toBeInstanceOf(FlowMatchEulerScheduler);
  });
});

describe("pipeline runner", () => {
  for (const [label, make] of [
    ["alpha (pooled text, CFG, 8x, [0,1])", alphaPipeline],
    ["beta (text sequence, 4n+1 frames, 4x, int timestep, [-1,1])", betaPipeline],
  ] as const) {
    it(`runs ${label} from its manifest alone`, async () => {
      const pipeline = make();
      const m = pipeline.manifest;
      const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
      try {
        const steps: number[] = [];
        const out = await runner.generate({ prompt: "a red circle moving left", seed: 9, segment: 2, onStep: (e) => steps.push(e.done) });
        expect(out.frames).toHaveLength(m.video.framesPerClip);
        for (const f of out.frames) expect(f.byteLength).toBe(m.video.width * m.video.height * 3);
        expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
        const { trace } = out;
        expect(trace.steps).toHaveLength(6);
        expect(trace.latentDims[1]).toBe(m.latent.channels);
        expect(trace.latentDims[3]).toBe(m.video.height / m.latent.spatialCompression);
        // The first committed latent is the seed's noise, bit for bit.
        const noise = segmentNoise(9, 2, trace.final.length);
        expect(Buffer.from(trace.steps[0]!.latent.buffer).equals(Buffer.from(noise.buffer))).toBe(true);
        expect(trace.steps.every((s) => (s.uncond !== undefined) === m.sampling.guidance.classifierFree)).toBe(true);
        // Same request, same frames; another prompt or segment, other frames.
        const again = await runner.generate({ prompt: "a red circle moving left", seed: 9, segment: 2 });
        expect(again.frames.map((f) => Buffer.from(f).toString("hex"))).toEqual(out.frames.map((f) => Buffer.from(f).toString("hex")));
        const other = await runner.generate({ prompt: "a blue square moving right", seed: 9, segment: 3 });
        expect(Buffer.from(other.trace.final.buffer).equals(Buffer.from(trace.final.buffer))).toBe(false);
      } finally {
        await runner.close();
      }
    });
  }

  it("gives the same trace whether guidance branches run as a batch of 2 or one by one (within float error)", async () => {
    const pipeline = alphaPipeline();
    const a = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, guidanceBatch: 2, logger: silent });
    const b = await PipelineRunner.create({ pipeline, device: "cpu", threads: 2, guidanceBatch: 1, logger: silent });
    try {
      const ta = (await a.generate({ prompt: "a red circle", seed: 1, segment: 0 })).trace;
      const tb = (await b.generate({ prompt: "a red circle", seed: 1, segment: 0 })).trace;
      for (let i = 0; i < ta.final.length; i++) expect(Math.abs((ta.final[i] as number) - (tb.final[i] as number))).toBeLessThan(1e-4);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("refuses a request outside the manifest's limits with what was wrong", async () => {
    const runner = await PipelineRunner.create({ pipeline: betaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      await expect(runner.generate({ prompt: "x", seed: 1, segment: 0, frames: 8, steps: 1000 })).rejects.toMatchObject({
        code: "RENDER_REQUEST",
        details: expect.arrayContaining([expect.stringMatching(/steps 1000/), expect.stringMatching(/rule 4n\+1/)]),
      });
    } finally {
      await runner.close();
    }
  });

  it("refuses ONNX files whose tensor names are not the manifest's", async () => {
    const alpha = alphaPipeline();
    const beta = betaPipeline();
    const mixed = assemblePipeline(
      {
        ...alpha.manifest,
        id: undefined,
        components: {
          ...alpha.manifest.components,
          denoiser: { ...alpha.manifest.components.denoiser, sha256: beta.manifest.components.denoiser.sha256 },
        },
      },
      { ...alpha.files, denoiser: beta.files.denoiser },
    );
    await expect(PipelineRunner.create({ pipeline: mixed, device: "cpu", threads: 1, logger: silent })).rejects.toMatchObject({
      code: "MODEL_CONTRACT",
    });
  });
});
