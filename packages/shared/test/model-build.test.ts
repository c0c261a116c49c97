import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import { describe, expect, test } from "vitest";
import { DEFAULT_ARCHITECTURE, DEFAULT_MODEL_ID, ModelManifest, buildDefaultModel, defaultModel, modelId } from "../src/model/index.js";

describe("buildDefaultModel", () => {
  test("default: builds byte-identical ONNX with the same sha256 twice", () => {
    const a = buildDefaultModel();
    const b = buildDefaultModel();
    expect(a.length).toBeGreaterThan(10_000);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(createHash("sha256").update(a).digest("hex")).toBe(createHash("sha256").update(b).digest("hex"));
  });

  test("behavior: the build gives the pinned default model id on every machine", () => {
    expect(modelId(buildDefaultModel())).toBe(DEFAULT_MODEL_ID);
  });

  test("behavior: the id is the sha256 of the bytes and the manifest validates", () => {
    const { bytes, manifest } = defaultModel();
    expect(manifest.id).toBe(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(modelId(bytes)).toBe(manifest.id);
    expect(ModelManifest.parse(manifest)).toEqual(manifest);
    expect(manifest.reference).toEqual({ width: 256, height: 256, fps: 24 });
    expect(manifest.limits.maxWidth).toBeGreaterThanOrEqual(1024);
    expect(manifest.latent.dim).toBe(DEFAULT_ARCHITECTURE.latentDim);
  });

  test("behavior: another weight seed is another model", () => {
    const other = buildDefaultModel({ ...DEFAULT_ARCHITECTURE, weightSeed: 1 });
    expect(modelId(other)).not.toBe(defaultModel().manifest.id);
  });

  test("behavior: onnxruntime-node loads it with the manifest's inputs and outputs", async () => {
    const { bytes, manifest } = defaultModel();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
    try {
      expect([...session.inputNames]).toEqual(manifest.inputs.map((i) => i.name));
      expect([...session.outputNames]).toEqual(manifest.outputs.map((o) => o.name));
      const n = 5;
      const out = await session.run({
        coords: new ort.Tensor("float32", new Float32Array(n * 2).fill(0.25), [n, 2]),
        t: new ort.Tensor("float32", Float32Array.of(0, 1.5), [2]),
        latent: new ort.Tensor("float32", new Float32Array(manifest.latent.dim), [1, manifest.latent.dim]),
      });
      expect(out.rgb?.dims).toEqual([2, n, 3]);
      const values = [...(out.rgb?.data as Float32Array)];
      expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    } finally {
      await session.release();
    }
  });

  test("error: a manifest with a malformed id does not validate", () => {
    const { manifest } = defaultModel();
    expect(ModelManifest.safeParse({ ...manifest, id: "0x1234" }).success).toBe(false);
    expect(ModelManifest.safeParse({ ...manifest, extra: 1 }).success).toBe(false);
  });
});
