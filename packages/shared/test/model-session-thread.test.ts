import { describe, expect, test } from "vitest";
import { createRenderer, defaultModel, type Renderer } from "../src/model/index.js";
import { SessionThread } from "../src/model/session-thread.js";
import { SESSION_THREADING } from "../src/model/ort.js";
import { ownBytes, sharedBytes } from "../src/model/shared-bytes.js";
import * as ort from "onnxruntime-node";
import { renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

const options: ort.InferenceSession.SessionOptions = {
  executionProviders: ["cpu"],
  intraOpNumThreads: 1,
  graphOptimizationLevel: "all",
  logSeverityLevel: 3,
  ...SESSION_THREADING,
};

function feeds(frames: number): Record<string, ort.Tensor> {
  const pixels = 6;
  const coords = Float32Array.from({ length: pixels * 2 }, (_, i) => (i % 7) / 7 - 0.5);
  const latent = Float32Array.from({ length: defaultModel().manifest.latent.dim }, (_, i) => Math.sin(i));
  return {
    coords: new ort.Tensor("float32", coords, [pixels, 2]),
    t: new ort.Tensor(
      "float32",
      Float32Array.from({ length: frames }, (_, i) => i / 4),
      [frames],
    ),
    latent: new ort.Tensor("float32", latent, [1, latent.length]),
  };
}

async function withRenderers(fn: (inline: Renderer, threaded: Renderer) => Promise<void>): Promise<void> {
  const inline = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger, threads: 1 });
  const threaded = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger, threads: 1, thread: true });
  try {
    await fn(inline, threaded);
  } finally {
    await inline.close();
    await threaded.close();
  }
}

describe("a session on its own thread", () => {
  test("behavior: model bytes cross to a thread as shared memory, and are copied back out only for APIs that refuse it", () => {
    const bytes = Uint8Array.from([1, 2, 3, 250]);
    const shared = sharedBytes(bytes);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...shared]).toEqual([...bytes]);
    expect(sharedBytes(shared)).toBe(shared); // already shared: no second copy
    const own = ownBytes(shared);
    expect(own.buffer).toBeInstanceOf(ArrayBuffer);
    expect([...own]).toEqual([...bytes]);
    expect(ownBytes(bytes)).toBe(bytes);
  });

  test("behavior: runs the model as a session on the caller's thread does, output for output", async () => {
    const bytes = defaultModel().bytes;
    const inline = await ort.InferenceSession.create(bytes, options);
    const threaded = await SessionThread.open(bytes, options);
    try {
      expect(threaded.inputNames).toEqual(inline.inputNames);
      expect(threaded.outputNames).toEqual(inline.outputNames);
      const [a, b] = await Promise.all([inline.run(feeds(3), ["rgb"]), threaded.run(feeds(3), ["rgb"])]);
      expect(b.rgb?.type).toBe("float32");
      expect(b.rgb?.dims).toEqual(a.rgb?.dims);
      expect(Buffer.from((b.rgb?.data as Float32Array).buffer).equals(Buffer.from((a.rgb?.data as Float32Array).buffer))).toBe(true);
    } finally {
      await inline.release();
      await threaded.release();
    }
  });

  test("behavior: a renderer on a thread renders the same frames, bit for bit", async () => {
    await withRenderers(async (inline, threaded) => {
      const spec = smallSpec({ width: 40, height: 30 });
      const [a, b] = [await renderAll(inline, spec, 3, 9), await renderAll(threaded, spec, 3, 9)];
      expect(b.map((f, i) => Buffer.from(f).equals(Buffer.from(a[i] as Uint8Array)))).toEqual(Array(9).fill(true));
    });
  });

  test("error: a run ONNX Runtime refuses rejects with its message; the session runs the next one", async () => {
    const threaded = await SessionThread.open(defaultModel().bytes, options);
    try {
      const bad = { ...feeds(2), t: new ort.Tensor("float32", new Float32Array(2), [1, 2]) };
      await expect(threaded.run(bad, ["rgb"])).rejects.toThrow(/t|rank|dimension|shape/i);
      expect((await threaded.run(feeds(2), ["rgb"])).rgb?.dims).toEqual([2, 6, 3]);
    } finally {
      await threaded.release();
    }
    await expect(threaded.run(feeds(1), ["rgb"])).rejects.toThrow(/released/);
    await expect(SessionThread.open(new Uint8Array([1, 2, 3]), options)).rejects.toThrow();
  });

  test("error: runs in flight when the thread dies reject with why; the next run opens the session again", async () => {
    const dieOnRun = new Int32Array(new SharedArrayBuffer(4));
    const threaded = await SessionThread.open(defaultModel().bytes, options, { dieOnRun });
    try {
      const before = await threaded.run(feeds(2), ["rgb"]);
      Atomics.store(dieOnRun, 0, 1);
      // Both are pending in the same turn, before the thread's exit can be seen here: it dies holding both.
      const lost = [threaded.run(feeds(2), ["rgb"]), threaded.run(feeds(3), ["rgb"])];
      for (const run of lost) await expect(run).rejects.toThrow(/the inference thread stopped: it exited with code 1/);
      expect(Atomics.load(dieOnRun, 0)).toBe(0);
      const after = await threaded.run(feeds(2), ["rgb"]);
      expect(Buffer.from((after.rgb?.data as Float32Array).buffer).equals(Buffer.from((before.rgb?.data as Float32Array).buffer))).toBe(
        true,
      );
    } finally {
      await threaded.release();
    }
  });

  test("behavior: after the thread dies, the next run opens the session again on a new thread", async () => {
    const threaded = await SessionThread.open(defaultModel().bytes, options);
    try {
      const before = await threaded.run(feeds(2), ["rgb"]);
      await threaded.stopThread();
      const after = await threaded.run(feeds(2), ["rgb"]);
      expect(Buffer.from((after.rgb?.data as Float32Array).buffer).equals(Buffer.from((before.rgb?.data as Float32Array).buffer))).toBe(
        true,
      );
    } finally {
      await threaded.release();
    }
  });
});
