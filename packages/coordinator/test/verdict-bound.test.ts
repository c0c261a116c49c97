import { describe, expect, test } from "vitest";
import { CoordinatorConfig } from "../src/config.js";
import { verdictBoundMs } from "../src/supervisor/verdict-bound.js";

describe("verdictBoundMs", () => {
  const defaults = { verdictWaitMs: 15_000, verdictRenderFactor: 2 };

  test("default: a segment that rendered fast keeps the 15 s floor", () => {
    expect(verdictBoundMs(1_200, defaults)).toBe(15_000);
  });

  test("behavior: a slow render (a 7-step diffusion segment on two cores) gets twice its render time", () => {
    expect(verdictBoundMs(40_000, defaults)).toBe(80_000);
    expect(verdictBoundMs(40_000, { ...defaults, verdictRenderFactor: 3 })).toBe(120_000);
  });

  test("behavior: a factor of 0 is the fixed bound; a negative render time (a clock step) counts as 0", () => {
    expect(verdictBoundMs(40_000, { verdictWaitMs: 20_000, verdictRenderFactor: 0 })).toBe(20_000);
    expect(verdictBoundMs(-5_000, defaults)).toBe(15_000);
  });

  test("default: the config carries the bound's settings, 15 s and × 2, and refuses nonsense", () => {
    expect(CoordinatorConfig.parse({})).toMatchObject({ verdictWaitSeconds: 15, verdictRenderFactor: 2 });
    expect(CoordinatorConfig.parse({ verdictWaitSeconds: "60", verdictRenderFactor: "4" })).toMatchObject({
      verdictWaitSeconds: 60,
      verdictRenderFactor: 4,
    });
    expect(() => CoordinatorConfig.parse({ verdictWaitSeconds: 0 })).toThrow();
    expect(() => CoordinatorConfig.parse({ verdictRenderFactor: -1 })).toThrow();
  });
});
