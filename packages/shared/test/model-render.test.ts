import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  CudaUnavailableError,
  RenderRequestError,
  createRenderer,
  defaultModel,
  meanAbsDiff,
  meanRgb,
  psnr,
  type RenderProgressEvent,
  type Renderer,
} from "../src/model/index.js";
import { mean, recordingLogger, renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

let renderer: Renderer;
beforeAll(async () => {
  renderer = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
});
afterAll(async () => {
  await renderer.close();
});

describe("createRenderer", () => {
  test("default: renders RGB24 frames of the spec's size on the CPU", async () => {
    expect(renderer.device).toBe("cpu");
    const frames = await renderAll(renderer, smallSpec({ width: 48, height: 32 }), 0, 3);
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(f.length).toBe(48 * 32 * 3);
    // Not a flat image: the field has structure.
    const [r, g, b] = meanRgb(frames[0] as Uint8Array);
    expect(new Set(frames[0]).size).toBeGreaterThan(50);
    expect(r + g + b).toBeGreaterThan(30);
  });

  test("behavior: the same spec renders identical frames twice", async () => {
    const spec = smallSpec();
    const a = await renderAll(renderer, spec, 5, 6);
    const other = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
    try {
      const b = await renderAll(other, spec, 5, 6);
      expect(b.map((f, i) => Buffer.from(f).equals(Buffer.from(a[i] as Uint8Array)))).toEqual(Array(6).fill(true));
    } finally {
      await other.close();
    }
  });

  test("behavior: a frame depends only on its time, not on batching, tiling or the range it was rendered in", async () => {
    const spec = smallSpec({ width: 40, height: 30 });
    const whole = await renderAll(renderer, spec, 10, 12);
    const single = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger, batchSize: 1, threads: 1 });
    const tiled = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger, maxPixelsPerRun: 500 });
    try {
      const parts = [...(await renderAll(single, spec, 10, 5)), ...(await renderAll(tiled, spec, 15, 7))];
      expect(parts.map((f, i) => psnr(f, whole[i] as Uint8Array))).toEqual(Array(12).fill(Infinity));
    } finally {
      await single.close();
      await tiled.close();
    }
  });

  test("behavior: frame k is at time k / fps, so 2 fps frame 1 equals 4 fps frame 2", async () => {
    const [at2] = await renderAll(renderer, smallSpec({ fps: 2 }), 1, 1);
    const [at4] = await renderAll(renderer, smallSpec({ fps: 4 }), 2, 1);
    expect(psnr(at2 as Uint8Array, at4 as Uint8Array)).toBe(Infinity);
  });

  test("behavior: a colour word moves the mean colour", async () => {
    const [red] = await renderAll(renderer, smallSpec({ prompt: "a red sea" }), 0, 1);
    const [blue] = await renderAll(renderer, smallSpec({ prompt: "a blue sea" }), 0, 1);
    const [rr, , rb] = meanRgb(red as Uint8Array);
    const [br, , bb] = meanRgb(blue as Uint8Array);
    expect(rr - rb).toBeGreaterThan(60);
    expect(bb - br).toBeGreaterThan(40);
  });

  test("behavior: a motion word changes how much consecutive frames differ", async () => {
    const motion = async (prompt: string) => {
      const frames = await renderAll(renderer, smallSpec({ prompt, fps: 24 }), 24, 8);
      return mean(frames.slice(1).map((f, i) => meanAbsDiff(f, frames[i] as Uint8Array)));
    };
    const still = await motion("a still green forest");
    const calm = await motion("a calm green forest");
    const plain = await motion("a green forest");
    const fast = await motion("a fast green forest");
    expect(still * 3).toBeLessThan(calm);
    expect(calm * 1.5).toBeLessThan(plain);
    expect(plain * 1.5).toBeLessThan(fast);
  });

  test("behavior: other words, the seed and the time each change the frames measurably", async () => {
    const [base] = await renderAll(renderer, smallSpec({ prompt: "a cat on a mat" }), 12, 1);
    const [word] = await renderAll(renderer, smallSpec({ prompt: "a dog on a mat" }), 12, 1);
    const [seed] = await renderAll(renderer, smallSpec({ prompt: "a cat on a mat", seed: 43 }), 12, 1);
    const [later] = await renderAll(renderer, smallSpec({ prompt: "a cat on a mat" }), 24, 1);
    for (const other of [word, seed, later]) expect(psnr(base as Uint8Array, other as Uint8Array)).toBeLessThan(25);
  });

  test("behavior: reports progress for every frame in order", async () => {
    const events: RenderProgressEvent[] = [];
    for await (const _ of renderer.renderFrames({ spec: smallSpec(), firstFrame: 7, frameCount: 3, onProgress: (e) => events.push(e) }));
    expect(events).toEqual([
      { type: "render:frame", frame: 7, done: 1, total: 3 },
      { type: "render:frame", frame: 8, done: 2, total: 3 },
      { type: "render:frame", frame: 9, done: 3, total: 3 },
    ]);
  });

  test("behavior: an aborted signal stops rendering with its reason", async () => {
    const controller = new AbortController();
    const frames: Uint8Array[] = [];
    const reason = new Error("stop");
    await expect(
      (async () => {
        for await (const f of renderer.renderFrames({ spec: smallSpec(), firstFrame: 0, frameCount: 100, signal: controller.signal })) {
          frames.push(f);
          if (frames.length === 2) controller.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    expect(frames).toHaveLength(2);
  });

  test("error: a size beyond the model's limits is refused", async () => {
    const { manifest } = defaultModel();
    await expect(renderAll(renderer, smallSpec({ width: manifest.limits.maxWidth + 2 }), 0, 1)).rejects.toMatchObject({
      name: "RenderRequestError",
    });
    await expect(renderAll(renderer, smallSpec({ fps: manifest.limits.maxFps + 1 }), 0, 1)).rejects.toBeInstanceOf(RenderRequestError);
    await expect(renderAll(renderer, smallSpec(), -1, 1)).rejects.toBeInstanceOf(RenderRequestError);
  });
});

describe("device selection", () => {
  test("error: device cuda fails loudly where ONNX Runtime has no CUDA provider", async () => {
    let cuda: Renderer | undefined;
    try {
      cuda = await createRenderer({ model: defaultModel(), device: "cuda", logger: silentLogger });
    } catch (err) {
      expect(err).toBeInstanceOf(CudaUnavailableError);
      expect((err as CudaUnavailableError).name).toBe("CudaUnavailableError");
      expect((err as CudaUnavailableError).message).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12");
      return;
    }
    // On a machine with the CUDA build and a GPU, the session runs there.
    expect(cuda.device).toBe("cuda");
    await cuda.close();
  });

  test("behavior: device auto falls back to the CPU with a warning", async () => {
    const logger = recordingLogger();
    const auto = await createRenderer({ model: defaultModel(), device: "auto", logger });
    try {
      const [frame] = await renderAll(auto, smallSpec(), 0, 1);
      expect(frame?.length).toBe(64 * 64 * 3);
      if (auto.device === "cpu") expect(logger.calls.some((c) => c.level === "warn" && String(c.args[1]).includes("CUDA"))).toBe(true);
      else expect(auto.device).toBe("cuda");
    } finally {
      await auto.close();
    }
  });
});
