import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { benchmarkRenderer, createRenderer, defaultModel, framePsnrs, psnr, type Renderer } from "../src/model/index.js";
import { silentLogger } from "./model-fixtures.js";

describe("psnr", () => {
  test("default: equal buffers are Infinity dB", () => {
    const a = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    expect(psnr(a, a.slice())).toBe(Infinity);
  });

  test("behavior: matches 10·log10(255²/MSE)", () => {
    const a = new Uint8Array(100).fill(100);
    const b = new Uint8Array(100).fill(110); // MSE 100
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10((255 * 255) / 100), 10);
    expect(framePsnrs([a, a], [b, a])).toEqual([psnr(a, b), Infinity]);
  });

  test("error: buffers of different length are refused", () => {
    expect(() => psnr(new Uint8Array(3), new Uint8Array(6))).toThrow(RangeError);
  });
});

describe("benchmarkRenderer", () => {
  let renderer: Renderer;
  beforeAll(async () => {
    renderer = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
  });
  afterAll(async () => {
    await renderer.close();
  });

  test("default: measures frames per second at the manifest's reference size", async () => {
    const manifest = { ...renderer.manifest, reference: { width: 64, height: 64, fps: 24 } };
    const result = await benchmarkRenderer(renderer, manifest, { frames: 4 });
    expect(result).toMatchObject({ frames: 4, width: 64, height: 64, device: "cpu" });
    expect(result.fps).toBeGreaterThan(0);
    expect(result.fps).toBeCloseTo(4 / result.seconds, 6);
  });
});
