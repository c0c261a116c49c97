import { describe, expect, it } from "vitest";
import { ModelIntegrityError, ModelLoadError } from "../src/model/errors.js";
import { defaultPipelinePath } from "../src/model/pipeline/frame-source.js";
import { assemblePipeline, loadPipeline } from "../src/model/pipeline/load.js";
import { AnyModelManifest, parseAnyManifest, pipelineId, PipelineManifest } from "../src/model/pipeline/manifest.js";
import { segmentNoise } from "../src/model/pipeline/noise.js";
import { PipelineRunner } from "../src/model/pipeline/runner.js";
import { createScheduler, DpmSolverMultistepScheduler, FlowMatchEulerScheduler, type Scheduler } from "../src/model/pipeline/scheduler.js";
import { Xoshiro128 } from "../src/model/prng.js";
import { defaultModel } from "../src/model/default-model.js";
import { alphaPipeline, BETA, betaPipeline, build, DPM_SOLVER_2M, tokenizerJson } from "./pipeline-fixtures.js";
import { createTokenizer, parseTokenizerJson } from "../src/model/pipeline/tokenizer.js";

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

describe("tokenizer component", () => {
  it("reads a WordLevel tokenizer.json: normalizers, the \\w+|[^\\w\\s]+ split, unknown words, truncation and padding", () => {
    const t = parseTokenizerJson(tokenizerJson(["<pad>", "<unk>", "a", "red", "circle", "café", ","]), 6);
    // NFKC folds the full-width "ＲＥＤ" to "RED", then lower case; "café" stays one Unicode word; "," is its own token.
    expect(Array.from(t.encode("A ＲＥＤ café, circle!"), Number)).toEqual([2, 3, 5, 6, 4, 1]);
    expect(Array.from(t.encode("a"), Number)).toEqual([2, 0, 0, 0, 0, 0]);
    expect(t.unknownWords("a blue circle!")).toEqual(["blue", "!"]);
    expect(t.padId).toBe(0);
  });

  it("a word-vocab tokenizer reads at most maxWords words and pads the rest; maxWords past maxLength is refused", () => {
    const spec = { kind: "word-vocab" as const, vocab: ["<pad>", "<unk>", "a", "red"], padId: 0, unkId: 1, maxLength: 6 };
    expect([...createTokenizer({ ...spec, maxWords: 4 }).encode("a red a red a red")]).toEqual([2n, 3n, 2n, 3n, 0n, 0n]);
    expect([...createTokenizer(spec).encode("a red a red a red a")]).toEqual([2n, 3n, 2n, 3n, 2n, 3n]);
    expect(() => createTokenizer({ ...spec, maxWords: 7 })).toThrow(/maxWords 7 is more than its maxLength 6/);
  });

  it("refuses what it does not implement by name, and a manifest whose tokenizer.json is not its sha256", () => {
    expect(() => parseTokenizerJson(tokenizerJson(undefined, { model: { type: "BPE", vocab: {}, merges: [] } }), 8)).toThrow(
      /model is BPE, not WordLevel/,
    );
    expect(() => parseTokenizerJson(tokenizerJson(undefined, { post_processor: { type: "TemplateProcessing" } }), 8)).toThrow(
      /post_processor/,
    );
    expect(() => parseTokenizerJson(tokenizerJson(undefined, { pre_tokenizer: { type: "Metaspace" } }), 8)).toThrow(/Metaspace/);
    expect(() => parseTokenizerJson(tokenizerJson(undefined, { padding: null }), 8)).toThrow(/pad_id/);
    expect(() => parseTokenizerJson(new TextEncoder().encode("{"), 8)).toThrow(/not UTF-8 JSON/);
    const beta = betaPipeline();
    expect(beta.manifest.components.tokenizer.kind).toBe("tokenizer-json");
    expect(() => assemblePipeline(beta.manifest, { ...beta.files, tokenizer: tokenizerJson(["<pad>", "<unk>", "x"]) })).toThrow(
      ModelIntegrityError,
    );
    expect(() => createTokenizer(beta.manifest.components.tokenizer)).toThrow(/no bytes/);
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

/**
 * diffusers' DPMSolverMultistepScheduler (use_flow_sigmas, flow_prediction,
 * dpmsolver++, midpoint, final sigma 0) written out again here in float64,
 * the way its Python reads — log-SNR λ, exp(−h), a lower_order_nums
 * counter — and not the way scheduler.ts computes it.
 */
function referenceDpm(n: number, N: number, shift: number, order: 1 | 2) {
  const linspace = (a: number, b: number, k: number) =>
    Array.from({ length: k }, (_, i) => (i === k - 1 ? b : a + ((b - a) * i) / (k - 1)));
  const raw = linspace(1, 1 / N, n + 1).map((alpha) => 1 - alpha);
  const sig = raw
    .map((x) => (shift * x) / (1 + (shift - 1) * x))
    .reverse()
    .slice(0, -1);
  const timesteps = sig.map((x) => Math.trunc(x * N));
  const sigmas = [...sig.map((x) => Math.fround(x)), 0];
  const lambda = (x: number) => Math.log(1 - x) - Math.log(x);
  let lowerOrderNums = 0;
  const outputs: number[][] = [];
  const step = (i: number, v: number[], x: number[]): number[] => {
    const x0 = x.map((xi, j) => xi - (sigmas[i] as number) * (v[j] as number));
    outputs.unshift(x0);
    const [sT, s0] = [sigmas[i + 1] as number, sigmas[i] as number];
    const h = lambda(sT) - lambda(s0);
    const alphaT = 1 - sT;
    const last = i === n - 1;
    let next: number[];
    if (order === 1 || lowerOrderNums < 1 || last) {
      next = x.map((xi, j) => (sT / s0) * xi - alphaT * (Math.exp(-h) - 1) * (x0[j] as number));
    } else {
      const s1 = sigmas[i - 1] as number;
      const h0 = lambda(s0) - lambda(s1);
      const r0 = h0 / h;
      const [m0, m1] = [outputs[0] as number[], outputs[1] as number[]];
      next = x.map((xi, j) => {
        const d0 = m0[j] as number;
        const d1 = (1 / r0) * (d0 - (m1[j] as number));
        return (sT / s0) * xi - alphaT * (Math.exp(-h) - 1) * d0 - 0.5 * (alphaT * (Math.exp(-h) - 1)) * d1;
      });
    }
    if (lowerOrderNums < order) lowerOrderNums++;
    return next;
  };
  return { timesteps, sigmas, step };
}

describe("DPM-Solver++ multistep scheduler (flow sigmas)", () => {
  const config = (order: 1 | 2, shift = 3): typeof DPM_SOLVER_2M => ({ ...DPM_SOLVER_2M, solverOrder: order, shift });

  it("has diffusers' schedule: from shift(1 − 1/N) down to a final 0, integer timesteps", () => {
    const s = new DpmSolverMultistepScheduler(config(2, 1));
    s.setTimesteps(4);
    // alphas = linspace(1, 0.001, 5) → sigmas 0.999, 0.74925, 0.4995, 0.24975, then 0.
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
    expect(s.sigmas.map((x) => Number(x.toFixed(5)))).toEqual([0.999, 0.74925, 0.4995, 0.24975, 0]);
    expect(s.historyAt(0)).toBe(0);
    expect(s.historyAt(1)).toBe(1);
    expect(s.historyAt(3)).toBe(0); // the last step is first order
    expect(createScheduler(s.config)).toBeInstanceOf(DpmSolverMultistepScheduler);
  });

  for (const order of [1, 2] as const) {
    it(`order ${order}: every step matches the independent float64 reference`, () => {
      const n = 12;
      const s = new DpmSolverMultistepScheduler(config(order));
      s.setTimesteps(n);
      const ref = referenceDpm(n, 1000, 3, order);
      expect(s.timesteps).toEqual(ref.timesteps);
      const rng = new Xoshiro128(5);
      let x: Float32Array = Float32Array.from({ length: 64 }, () => rng.uniform(-2, 2));
      let xr: number[];
      let worst = 0;
      for (const [i, t] of s.timesteps.entries()) {
        // A velocity that changes smoothly with the step, as a model's does, plus a little noise.
        const v = Float32Array.from(x, (xi, j) => Math.fround(0.7 * xi + Math.sin(j + i / 3) + rng.uniform(-0.05, 0.05)));
        const out = s.step(v, t, x);
        xr = ref.step(i, Array.from(v), Array.from(x));
        let num = 0;
        let den = 0;
        for (let j = 0; j < out.length; j++) {
          num += ((out[j] as number) - (xr[j] as number)) ** 2;
          den += (xr[j] as number) ** 2;
        }
        worst = Math.max(worst, Math.sqrt(num / den));
        x = out;
      }
      expect(worst).toBeLessThan(2e-6);
    });
  }

  it("order 1 is the Euler step on the same sigmas, and order 2 differs from it", () => {
    const s1 = new DpmSolverMultistepScheduler(config(1));
    const s2 = new DpmSolverMultistepScheduler(config(2));
    s1.setTimesteps(6);
    s2.setTimesteps(6);
    const x = Float32Array.from([1, -0.5, 2]);
    const v0 = Float32Array.from([0.3, 0.1, -1]);
    const v1 = Float32Array.from([0.5, -0.2, -0.7]);
    const a = s1.stepAt(1, x, v1, []);
    const dt = (s1.sigmas[2] as number) - (s1.sigmas[1] as number);
    for (let j = 0; j < x.length; j++) expect(a[j]).toBeCloseTo((x[j] as number) + dt * (v1[j] as number), 5);
    const b = s2.stepAt(1, x, v1, [{ sample: x, output: v0 }]);
    expect(Math.abs((b[0] as number) - (a[0] as number))).toBeGreaterThan(1e-3);
  });

  it("step() and the verifier's pure stepAt() agree bit for bit; a step without its predecessor is refused", () => {
    const s: Scheduler = createScheduler(config(2));
    s.setTimesteps(5);
    const x0 = Float32Array.from([0.2, -1.1]);
    const v0 = Float32Array.from([1, 0.5]);
    const x1 = s.step(v0, s.timesteps[0] as number, x0);
    const v1 = Float32Array.from([0.9, 0.7]);
    const x2 = s.step(v1, s.timesteps[1] as number, x1);
    expect(Buffer.from(s.stepAt(1, x1, v1, [{ sample: x0, output: v0 }]).buffer).equals(Buffer.from(x2.buffer))).toBe(true);
    expect(() => s.stepAt(2, x2, v1, [])).toThrow(/previous step/);
    const fresh = createScheduler(config(2));
    fresh.setTimesteps(5);
    expect(() => fresh.step(v1, fresh.timesteps[2] as number, x2)).toThrow(/needs step 1/);
  });
});

describe("pipeline runner", () => {
  for (const [label, make] of [
    ["alpha (pooled text, CFG, 8x, [0,1])", alphaPipeline],
    ["beta (text sequence, 4n+1 frames, 4x, int timestep, [-1,1])", betaPipeline],
    ["beta under DPM-Solver++ 2M", () => build({ ...BETA, scheduler: DPM_SOLVER_2M })],
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

  describe("the default model and prompts longer than its captions", () => {
    // Its captions all have 9 words; a known word at position 9 or later once drove the denoiser to infinity.
    const long = "hello a yellow square moving right on a black background";

    it("renders a long prompt from its first 9 words, every committed tensor finite", async () => {
      const pipeline = await loadPipeline(defaultPipelinePath());
      expect(pipeline.manifest.components.tokenizer).toMatchObject({ kind: "word-vocab", maxWords: 9 });
      const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
      try {
        const { trace } = await runner.generate({ prompt: long, seed: 3, segment: 0 });
        const tensors = [trace.final, ...trace.steps.flatMap((s) => [s.latent, s.cond, ...(s.uncond ? [s.uncond] : [])])];
        expect(tensors.filter((t) => t.some((v) => !Number.isFinite(v)))).toHaveLength(0);
      } finally {
        await runner.close();
      }
    });

    it("without maxWords the denoiser diverges, and the runner stops with a reason instead of delivering garbage", async () => {
      const pipeline = await loadPipeline(defaultPipelinePath());
      const { maxWords: _dropped, ...tokenizer } = pipeline.manifest.components.tokenizer as { maxWords?: number };
      const unguarded = assemblePipeline(
        { ...pipeline.manifest, id: undefined, components: { ...pipeline.manifest.components, tokenizer } },
        pipeline.files,
      );
      const runner = await PipelineRunner.create({ pipeline: unguarded, device: "cpu", threads: 1, logger: silent });
      try {
        await expect(runner.generate({ prompt: long, seed: 3, segment: 0 })).rejects.toMatchObject({
          code: "RENDER_FAILED",
          message: expect.stringMatching(/denoiser's output at step \d+ is not finite/),
        });
      } finally {
        await runner.close();
      }
    });
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
