import { describe, expect, it } from "vitest";
import { estimateSeconds, pickProvider, schedule, segmentWork, type SchedulerJob, type SchedulerProvider } from "../src/scheduler/index.js";
import { MODEL } from "./helpers/fixtures.js";

const reference = { width: 32, height: 32, fps: 4 };
const options = { reference, minShare: 0.2 };

function provider(key: string, over: Partial<SchedulerProvider> = {}): SchedulerProvider {
  return { key, models: new Set([MODEL]), ask: 100n, capacity: 1, window: 1000, inFlight: 0, speedFps: 4, reliability: 1, ...over };
}

function job(pending: number, over: Partial<SchedulerJob> = {}): SchedulerJob {
  const spec = { width: 32, height: 32, fps: 4 };
  return {
    jobId: "j1",
    model: MODEL,
    pricePerSecond: 100n,
    spec,
    segmentWork: segmentWork(spec, reference),
    pending: Array.from({ length: pending }, (_, i) => i),
    ...over,
  };
}

const countBy = (decisions: { provider: string }[]) => {
  const out: Record<string, number> = {};
  for (const d of decisions) out[d.provider] = (out[d.provider] ?? 0) + 1;
  return out;
};

describe("scheduler", () => {
  it("default: shares segments in proportion to speed", () => {
    const d = schedule([job(400)], [provider("fast", { speedFps: 12 }), provider("slow", { speedFps: 4 })], options);
    expect(d).toHaveLength(400);
    const c = countBy(d);
    expect(c.fast).toBe(300);
    expect(c.slow).toBe(100);
    expect(new Set(d.map((x) => x.segment)).size).toBe(400);
  });

  it("behavior: reliability lowers a provider's share", () => {
    const c = countBy(schedule([job(300)], [provider("good"), provider("flaky", { reliability: 0.5 })], options));
    expect(c.good).toBe(200);
    expect(c.flaky).toBe(100);
  });

  it("behavior: a very slow provider keeps a minimum share", () => {
    const providers = [provider("a", { speedFps: 1000 }), provider("b", { speedFps: 1000 }), provider("tiny", { speedFps: 0.001 })];
    const c = countBy(schedule([job(1000)], providers, options));
    // floor = 0.2 × mean weight ≈ 0.2 × 667 = 133, so tiny gets ≈ 133/2133 of the work.
    expect(c.tiny).toBeGreaterThanOrEqual(50);
    expect(c.tiny).toBeLessThan(c.a!);
  });

  it("behavior: asks above the job's price and other models are skipped", () => {
    const providers = [provider("cheap"), provider("dear", { ask: 101n }), provider("other", { models: new Set(["0x00"]) })];
    expect(Object.keys(countBy(schedule([job(10)], providers, options)))).toEqual(["cheap"]);
    // A job at twice the reference pixels costs twice the ask.
    const big = { width: 64, height: 32, fps: 4 };
    expect(
      schedule([job(1, { spec: big, segmentWork: segmentWork(big, reference), pricePerSecond: 199n })], [provider("p")], options),
    ).toEqual([]);
    expect(
      schedule([job(1, { spec: big, segmentWork: segmentWork(big, reference), pricePerSecond: 200n })], [provider("p")], options),
    ).toHaveLength(1);
  });

  it("behavior: respects each provider's window and in-flight count, across jobs", () => {
    const providers = [provider("a", { window: 3, inFlight: 1 }), provider("b", { window: 2 })];
    const d = schedule([job(10), job(10, { jobId: "j2" })], providers, options);
    expect(countBy(d)).toEqual({ a: 2, b: 2 });
    expect(d.every((x) => x.jobId === "j1")).toBe(true);
  });

  it("behavior: never gives a segment back to a provider excluded for it", () => {
    const d = schedule([job(2, { excluded: (s, p) => s === 0 && p === "a" })], [provider("a", { speedFps: 100 }), provider("b")], options);
    expect(d.find((x) => x.segment === 0)?.provider).toBe("b");
  });

  it("behavior: expected time grows with the provider's queue", () => {
    const d = schedule([job(3)], [provider("a", { capacity: 1 })], options);
    expect(d.map((x) => x.expectedMs)).toEqual([1000, 2000, 3000]);
  });

  it("pickProvider: the fastest eligible one with a free slot, not excluded", () => {
    const ps = [provider("a", { speedFps: 50 }), provider("b", { speedFps: 10 }), provider("c", { speedFps: 100, inFlight: 1, window: 1 })];
    expect(pickProvider(job(1), ps, options, new Set())?.key).toBe("a");
    expect(pickProvider(job(1), ps, options, new Set(["a"]))?.key).toBe("b");
    expect(pickProvider(job(1), ps, options, new Set(["a", "b"]))).toBeUndefined();
  });

  it("estimateSeconds: total work over total throughput", () => {
    expect(estimateSeconds(10, 4, [provider("a"), provider("b")])).toBe(5);
    expect(estimateSeconds(1, 4, [provider("a"), provider("b")])).toBe(1);
    expect(estimateSeconds(1, 4, [])).toBe(Infinity);
  });
});
