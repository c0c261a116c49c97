import { Writable } from "node:stream";
import { join } from "node:path";
import { createLogger } from "@rendermesh/shared";
import { createRenderer, defaultModel, saveModel, type Renderer } from "@rendermesh/shared/model";
import { afterAll, describe, expect, test } from "vitest";
import { loadServedModels } from "../src/models.js";
import { tempDir } from "./helpers/provider.js";

const id = defaultModel().manifest.id;

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  return { lines, logger: createLogger({ name: "models-test", level: "info", destination }) };
}

describe("served models", () => {
  const dir = tempDir("rm-models-");
  afterAll(() => dir.cleanup());

  test("default: the default model and an ONNX file with its manifest load, and the self-benchmark measures them", async () => {
    const path = join(dir.dir, "field.onnx");
    await saveModel(defaultModel(), path);
    const { logger } = capture();
    const served = await loadServedModels({
      sources: ["default", path],
      device: "cpu",
      allowed: new Set([id]),
      benchmarkFrames: 1,
      logger,
    });
    try {
      // The same bytes are one model: served once.
      expect(served.map((m) => m.id)).toEqual([id]);
      expect(served[0]!.benchmarkFps).toBeGreaterThan(0);
      expect(served[0]!.reference).toEqual(defaultModel().manifest.reference);
    } finally {
      await Promise.all(served.map((m) => m.renderer.close()));
    }
  }, 120_000);

  test("behavior: with renderers: 2 each model gets two renderers, benchmarked together, that render as one does", async () => {
    const { lines, logger } = capture();
    const served = await loadServedModels({
      sources: ["default"],
      device: "cpu",
      allowed: new Set([id]),
      threads: 1,
      renderers: 2,
      benchmarkFrames: 1,
      logger,
    });
    const single = await createRenderer({ model: defaultModel(), device: "cpu", threads: 1, logger: { info() {}, warn() {}, debug() {} } });
    try {
      expect(lines.find((l) => l.msg === "self-benchmark")).toMatchObject({ renderers: 2 });
      expect(lines.filter((l) => l.msg === "renderer ready")).toHaveLength(2);
      const spec = { prompt: "a red circle moving left", seed: 3, fps: 12, width: 32, height: 24 };
      const frames = async (r: Renderer) => {
        const out: string[] = [];
        for await (const f of r.renderFrames({ spec, firstFrame: 5, frameCount: 4 })) out.push(Buffer.from(f).toString("hex"));
        return out;
      };
      const pooled = served[0]!.renderer as Renderer;
      const [a, b] = await Promise.all([frames(pooled), frames(pooled)]);
      const expected = await frames(single);
      expect(a).toEqual(expected);
      expect(b).toEqual(expected);
    } finally {
      await single.close();
      await Promise.all(served.map((m) => m.renderer.close()));
    }
    await expect(
      loadServedModels({ sources: ["default"], device: "cpu", allowed: new Set([id]), renderers: 0, benchmarkFps: 10, logger }),
    ).rejects.toThrow(/renderers must be a positive integer/);
  }, 120_000);

  test("behavior: --device auto falls back to the CPU when CUDA does not load, and logs it", async () => {
    const { lines, logger } = capture();
    const served = await loadServedModels({ sources: ["default"], device: "auto", allowed: new Set([id]), benchmarkFps: 10, logger });
    try {
      expect(served[0]!.renderer.device).toBe("cpu");
      expect(lines.some((l) => l.level === 40 && /CUDA/.test(l.msg))).toBe(true);
    } finally {
      await Promise.all(served.map((m) => m.renderer.close()));
    }
  });

  test("error: --device cuda that cannot load CUDA fails loudly", async () => {
    const { logger } = capture();
    await expect(
      loadServedModels({ sources: ["default"], device: "cuda", allowed: new Set([id]), benchmarkFps: 10, logger }),
    ).rejects.toMatchObject({
      name: "DeviceUnavailableError",
      hint: expect.stringContaining("ONNXRUNTIME_NODE_INSTALL=cuda12"),
    });
  });

  test("error: a model whose hash the policy does not allow is not served", async () => {
    const { lines, logger } = capture();
    await expect(
      loadServedModels({ sources: ["default"], device: "cpu", allowed: new Set(), benchmarkFps: 10, logger }),
    ).rejects.toMatchObject({ name: "ModelRejectedError" });
    expect(lines.some((l) => /not on the policy's allowed list/.test(l.msg))).toBe(true);
  });

  test("error: a model file without its manifest is refused with the path", async () => {
    const { logger } = capture();
    await expect(
      loadServedModels({ sources: [join(dir.dir, "missing.onnx")], device: "cpu", allowed: new Set([id]), benchmarkFps: 10, logger }),
    ).rejects.toMatchObject({
      name: "ModelRejectedError",
      shortMessage: expect.stringContaining("missing.onnx"),
    });
  });
});
