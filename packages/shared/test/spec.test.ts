import { describe, expect, test } from "vitest";
import { InvalidJobSpecError, canonicalSpec, parseJobSpec, segmentFrames, specHash } from "../src/index.js";

const spec = {
  v: 1 as const,
  model: "0x" + "ab".repeat(32),
  prompt: "a red fox running",
  seed: 7,
  seconds: 6,
  fps: 12,
  width: 192,
  height: 192,
};

describe("job spec", () => {
  test("default: canonical JSON has sorted keys and no whitespace", () => {
    expect(canonicalSpec(spec)).toBe(
      `{"fps":12,"height":192,"model":"0x${"ab".repeat(32)}","prompt":"a red fox running","seconds":6,"seed":7,"v":1,"width":192}`,
    );
  });

  test("behavior: key order and hex case do not change the hash", () => {
    const reordered = {
      height: 192,
      width: 192,
      fps: 12,
      seconds: 6,
      seed: 7,
      prompt: "a red fox running",
      model: "0x" + "AB".repeat(32),
      v: 1 as const,
    };
    expect(specHash(reordered)).toBe(specHash(spec));
  });

  test("behavior: every field changes the hash", () => {
    const base = specHash(spec);
    for (const change of [
      { prompt: "a blue fox" },
      { seed: 8 },
      { seconds: 5 },
      { fps: 24 },
      { width: 194 },
      { height: 190 },
      { model: "0x" + "cd".repeat(32) },
    ]) {
      expect(specHash({ ...spec, ...change })).not.toBe(base);
    }
  });

  test("error: a bad field is named in one sentence", () => {
    expect(() => parseJobSpec({ ...spec, width: 191 })).toThrow(/width: width must be even/);
    expect(() => parseJobSpec({ ...spec, seconds: 0 })).toThrow(InvalidJobSpecError);
    expect(() => parseJobSpec({ ...spec, extra: 1 })).toThrow(/Invalid job spec/);
  });

  test("behavior: segment i covers frames [i·fps, (i+1)·fps)", () => {
    expect(segmentFrames(spec, 0)).toEqual({ firstFrame: 0, frameCount: 12 });
    expect(segmentFrames(spec, 5)).toEqual({ firstFrame: 60, frameCount: 12 });
    expect(() => segmentFrames(spec, 6)).toThrow(/outside the job/);
  });
});
