import { describe, expect, it } from "vitest";
import { PipelineRunner, type Generation } from "../src/model/pipeline/runner.js";
import * as dagJson from "@ipld/dag-json";
import {
  encodeTrace,
  MemoryTraceStore,
  publishTrace,
  decodeTraceRoot,
  TraceRoot,
  tensorBytes,
  tensorFromBytes,
} from "../src/model/pipeline/trace.js";
import { verifyTrace } from "../src/model/pipeline/verify.js";
import { createScheduler } from "../src/model/pipeline/scheduler.js";
import { assemblePipeline } from "../src/model/pipeline/load.js";
import { ALPHA, alphaPipeline, BETA, betaPipeline, build, DPM_SOLVER_2M } from "./pipeline-fixtures.js";

const silent = { info() {}, warn() {} };
const job = { prompt: "a red circle moving left", seed: 5, segment: 1 };

async function publish(gen: Generation) {
  const store = new MemoryTraceStore();
  const encoded = await encodeTrace(gen.trace);
  const root = await publishTrace(encoded, store);
  return { store, root, encoded };
}

describe("verification by committed steps", () => {
  it("accepts an honest segment, fetching only the root and the sampled steps' blocks", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    const verifierRunner = await PipelineRunner.create({
      pipeline: alphaPipeline(),
      device: "cpu",
      threads: 2,
      guidanceBatch: 1,
      logger: silent,
    });
    try {
      const gen = await runner.generate({ ...job, steps: 20 });
      const { store, root, encoded } = await publish(gen);
      const verdict = await verifyTrace({ runner: verifierRunner, job: { ...job, steps: 20 }, root, store, frames: gen.frames });
      expect(verdict).toMatchObject({ ok: true });
      expect(verdict.steps).toHaveLength(2);
      expect(verdict.cost.denoiserEvals).toBe(4);
      // root + per sampled step (latent, cond, uncond, next, both neighbours' cond) + text (2) + final, some shared.
      expect(store.fetched.length).toBeLessThanOrEqual(1 + 2 * 6 + 2 + 1);
      expect(store.fetched.length).toBeLessThan(encoded.blocks.size / 2);
      expect(Math.max(...verdict.measured.denoiserRelL2)).toBeLessThan(1e-5);
    } finally {
      await runner.close();
      await verifierRunner.close();
    }
  });

  it("asks the store for every block it will check at once, before any arrives (one want-list, not a round trip each)", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const gen = await runner.generate({ ...job, steps: 20 });
      const { store, root } = await publish(gen);
      // The root comes at once; every tensor block is held until the test lets them all go.
      let held = 0;
      let firstHeld: () => void = () => {};
      const firstAsked = new Promise<void>((resolve) => (firstHeld = resolve));
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const seam = {
        put: store.put.bind(store),
        get: async (cid: Parameters<typeof store.get>[0]) => {
          if (cid.equals(root)) return store.get(cid);
          held++;
          firstHeld();
          await released;
          return store.get(cid);
        },
      };
      const verdict = verifyTrace({ runner, job: { ...job, steps: 20 }, root, store: seam, frames: gen.frames, k: 3 });
      await firstAsked;
      // The first request and the rest are made in one synchronous pass: by now all are out, none answered.
      const asked = held;
      release();
      expect(await verdict).toMatchObject({ ok: true });
      // Per sampled step its latent, cond, uncond and next latent at least, and the text and final blocks.
      expect(asked).toBeGreaterThanOrEqual(3 * 4 + 2);
      expect(asked).toBe(store.fetched.length - 1);
    } finally {
      await runner.close();
    }
  });

  it("accepts the differently shaped pipeline too (no guidance, 4n+1 frames)", async () => {
    const runner = await PipelineRunner.create({ pipeline: betaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const gen = await runner.generate(job);
      const { store, root } = await publish(gen);
      expect(await verifyTrace({ runner, job, root, store, frames: gen.frames })).toMatchObject({ ok: true });
    } finally {
      await runner.close();
    }
  });

  it("checks a multistep scheduler's arithmetic from two committed steps (DPM-Solver++ 2M on the differently shaped pipeline)", async () => {
    const pipeline = build({ ...BETA, scheduler: DPM_SOLVER_2M });
    const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
    try {
      const all = pipeline.manifest.sampling.steps.default;
      const honest = await runner.generate(job);
      const { store, root } = await publish(honest);
      const verdict = await verifyTrace({ runner, job, root, store, frames: honest.frames, k: all });
      expect(verdict).toMatchObject({ ok: true });
      // A provider that ran first-order updates after the first step (ignoring the previous output) commits another trajectory.
      const firstOrder = await runner.generate(job);
      const s = createScheduler({ ...DPM_SOLVER_2M, solverOrder: 1 });
      s.setTimesteps(all);
      const steps = firstOrder.trace.steps;
      const euler = s.stepAt(3, steps[3]!.latent, steps[3]!.cond, []);
      steps[4] = { ...steps[4]!, latent: euler };
      const tampered = await publish(firstOrder);
      const bad = await verifyTrace({ runner, job, root: tampered.root, store: tampered.store, frames: firstOrder.frames, k: all });
      expect(bad).toMatchObject({ ok: false, check: "scheduler" });
      expect(bad.reason).toMatch(/step 3/);
    } finally {
      await runner.close();
    }
  });

  it("catches each way a trace can be wrong, with the check that failed", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    // Another model: the same shapes with other weights, whose trace claims the honest pipeline's id.
    const other = await PipelineRunner.create({ pipeline: build({ ...ALPHA, seed: 99 }), device: "cpu", threads: 1, logger: silent });
    try {
      const verify = async (gen: Generation, frames = gen.frames, tweak?: (g: Generation) => void) => {
        if (tweak) tweak(gen);
        const { store, root } = await publish(gen);
        // Sample every step, so the tampered one is always drawn.
        return verifyTrace({ runner, job, root, store, frames, k: 6 });
      };
      expect((await verify(await runner.generate({ ...job, seed: 6 }))).check).toBe("trace-root");
      const seedOnly = await runner.generate({ ...job, seed: 6 });
      seedOnly.trace.seed = job.seed;
      expect((await verify(seedOnly)).check).toBe("noise");
      expect((await verify(await runner.generate({ ...job, steps: 5 }))).check).toBe("trace-root");
      expect((await verify(await runner.generate({ ...job, prompt: "a blue square moving right" }))).check).toBe("text");
      // A step whose output was reused from the previous step (work skipped), the rest consistent.
      const skipped = await runner.generate(job);
      expect(
        (
          await verify(skipped, skipped.frames, (g) => {
            const s = g.trace.steps;
            s[3] = { ...s[3]!, cond: s[2]!.cond, uncond: s[2]!.uncond };
          })
        ).check,
      ).toBe("denoiser");
      const frames = (await runner.generate({ ...job, segment: 2 })).frames;
      expect((await verify(await runner.generate(job), frames)).check).toBe("tile");
      const cheaper = await other.generate(job);
      expect((await verify(cheaper)).check).toBe("trace-root");
      cheaper.trace.pipeline = runner.manifest.id;
      expect((await verify(cheaper)).check).toBe("text");
    } finally {
      await runner.close();
      await other.close();
    }
  });

  it("refuses delivered frames whose block means moved (another decoder) even when per-pixel PSNR passes; accepts fine-grain noise", async () => {
    const alpha = alphaPipeline();
    const m = alpha.manifest;
    const pipeline = assemblePipeline(
      { ...m, id: undefined, verification: { ...m.verification, tolerances: { ...m.verification.tolerances, tileBlockPsnrDb: 45 } } },
      alpha.files,
    );
    const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
    try {
      const gen = await runner.generate(job);
      const { store, root } = await publish(gen);
      const W = m.video.width;
      const clamp = (v: number) => Math.max(0, Math.min(255, v));
      // ±4 in a checkerboard: 36 dB per pixel, but every 8×8 block keeps its mean (as H.264's fine-detail error).
      const grain = gen.frames.map((f) =>
        f.map((v, i) => clamp(v + (((Math.floor(i / 3) % W) + Math.floor(i / 3 / W)) % 2 === 0 ? 4 : -4))),
      );
      // +2 everywhere: 42 dB per pixel (above the 30 dB floor), and 42 dB in block means too (below 45).
      const shifted = gen.frames.map((f) => f.map((v) => clamp(v + 2)));
      const check = (frames: Uint8Array[]) => verifyTrace({ runner, job, root, store, frames });
      const fine = await check(grain);
      expect(fine).toMatchObject({ ok: true });
      expect(fine.measured.tileBlockPsnrDb).toBeGreaterThan(45);
      const moved = await check(shifted);
      expect(moved).toMatchObject({ ok: false, check: "tile" });
      expect(moved.reason).toMatch(/block means/);
      expect(moved.measured.tilePsnrDb).toBeGreaterThan(30);
    } finally {
      await runner.close();
    }
  });

  it("reads a root as dag-json does (its fast path for the canonical form, dag-json's decoder otherwise) and refuses one that does not hash to its CID", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const gen = await runner.generate(job);
      const { store, root, encoded } = await publish(gen);
      const utf8 = (text: string) => new TextEncoder().encode(text);
      const text = new TextDecoder().decode(encoded.rootBytes);
      // Same values, links included: re-encoded, both give the provider's bytes.
      expect(dagJson.encode(decodeTraceRoot(encoded.rootBytes))).toEqual(encoded.rootBytes);
      expect(dagJson.encode(TraceRoot.parse(dagJson.decode(encoded.rootBytes)))).toEqual(encoded.rootBytes);
      // Forms the fast path leaves to dag-json get dag-json's answer: pretty-printed JSON decodes to the same root…
      const pretty = utf8(JSON.stringify(JSON.parse(text), null, 1));
      expect(dagJson.encode(decodeTraceRoot(pretty))).toEqual(encoded.rootBytes);
      // …a link with a sibling key, and an integer beyond 2^53 (a BigInt to dag-json), are refused by both.
      const sibling = utf8(text.replace(/\{"\/":"(b[a-z2-7]+)"\}/, '{"/":"$1","x":1}'));
      expect(() => dagJson.decode(sibling)).toThrow();
      expect(() => decodeTraceRoot(sibling)).toThrow();
      const bigSeed = utf8(text.replace(/"seed":\d+/, '"seed":9007199254740993'));
      expect(() => TraceRoot.parse(dagJson.decode(bigSeed))).toThrow();
      expect(() => decodeTraceRoot(bigSeed)).toThrow();
      // A store that does not check blocks serves other bytes under the root's CID: the same root, pretty-printed.
      store.blocks.set(root.toString(), pretty);
      const verdict = await verifyTrace({ runner, job, root, store, frames: gen.frames });
      expect(verdict).toMatchObject({ ok: false, check: "trace-root", reason: expect.stringMatching(/does not hash to its CID/) });
    } finally {
      await runner.close();
    }
  });

  it("reads a tensor block wherever its bytes sit: a Node Buffer at an odd offset of a shared pool, as a block store may return", () => {
    const values = Float32Array.of(1.5, -0, Number.MIN_VALUE, 3.4e38, -7.25);
    const pool = Buffer.alloc(64, 0xff);
    pool.set(tensorBytes(values), 3);
    const block = pool.subarray(3, 3 + values.byteLength);
    const read = tensorFromBytes(block);
    expect(read.length).toBe(values.length);
    expect(new Uint32Array(read.buffer)).toEqual(new Uint32Array(values.buffer));
    expect(read.buffer).not.toBe(pool.buffer);
  });

  it("rejects a root that is not a trace", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const gen = await runner.generate(job);
      const { store, encoded } = await publish(gen);
      const leaf = [...encoded.blocks.values()].find((b) => !b.cid.equals(encoded.root))!;
      const verdict = await verifyTrace({ runner, job, root: leaf.cid, store, frames: gen.frames });
      expect(verdict.check).toBe("trace-root");
      expect(decodeTraceRoot(encoded.rootBytes).latents).toHaveLength(6);
    } finally {
      await runner.close();
    }
  });
});
