import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeSegment, encodeSegment } from "../src/media/index.js";
import { createRenderer, defaultModel, psnr, type Renderer, type RenderSpec } from "../src/model/index.js";
import { renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

// The client's spot-check: re-render a frame (batch of one) and compare it
// with the frame decoded from a delivered segment. scripts/psnr-study.ts
// measures the same over many prompts and sizes; these bounds are far
// inside its measured ranges (see src/model/README.md).
const HONEST_MIN_DB = 32;
const WRONG_MAX_DB = 25;

let provider: Renderer;
let client: Renderer;
beforeAll(async () => {
  provider = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
  client = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger, batchSize: 1 });
});
afterAll(async () => {
  await provider.close();
  await client.close();
});

async function deliver(spec: RenderSpec, firstFrame: number): Promise<Uint8Array[]> {
  return decodeSegment(await encodeSegment(await renderAll(provider, spec, firstFrame, spec.fps), spec), spec);
}

describe("spot-check PSNR", () => {
  const spec = smallSpec({ prompt: "a fast red storm over the desert", seed: 5, fps: 12 });
  const first = 3 * spec.fps;
  const sampled = [0, 5, 11];

  test("default: an honest segment's decoded frames are close to the client's re-render", async () => {
    const delivered = await deliver(spec, first);
    const values: number[] = [];
    for (const k of sampled) {
      const [reference] = await renderAll(client, spec, first + k, 1);
      values.push(psnr(reference as Uint8Array, delivered[k] as Uint8Array));
    }
    console.info(`honest spot-check PSNR (dB): ${values.map((v) => v.toFixed(2)).join(", ")}`);
    expect(Math.min(...values)).toBeGreaterThan(HONEST_MIN_DB);
  });

  test.each([
    ["another prompt", { ...spec, prompt: "a calm blue sea at night" }, first],
    ["another seed", { ...spec, seed: 6 }, first],
    ["another second", spec, first + spec.fps],
  ] as const)("behavior: a segment rendered with %s fails the check", async (_, wrongSpec, wrongFirst) => {
    const delivered = await deliver(wrongSpec, wrongFirst);
    const values: number[] = [];
    for (const k of sampled) {
      const [reference] = await renderAll(client, spec, first + k, 1);
      values.push(psnr(reference as Uint8Array, delivered[k] as Uint8Array));
    }
    console.info(`${_} spot-check PSNR (dB): ${values.map((v) => v.toFixed(2)).join(", ")}`);
    expect(Math.max(...values)).toBeLessThan(WRONG_MAX_DB);
  });
});
