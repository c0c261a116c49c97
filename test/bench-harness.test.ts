// The bench harness's own logic (scripts/bench/lib): argument parsing and
// the median/spread of repeated measurements. No benchmark runs here.
import { describe, expect, test } from "vitest";
import { FIGURES, parseBenchArgs, UsageError } from "../scripts/bench/lib/args.ts";
import { summarize } from "../scripts/bench/lib/stats.ts";
import { measured, meetsTarget } from "../scripts/bench/types.ts";

const suites = ["cli", "client-verify", "e2e", "flood", "ipfs", "provider"];

describe("pnpm bench arguments", () => {
  test("default: 3 runs, every suite, both model families", () => {
    expect(parseBenchArgs([], suites)).toEqual({ runs: 3, only: [], families: ["field", "diffusion"], json: false, help: false });
  });

  test("behavior: --only takes figure names, suite names and comma lists; positional names still pick suites", () => {
    const a = parseBenchArgs(
      ["--only", "pipeline,verify", "--only", "ipfs", "flood", "--runs", "5", "--family", "diffusion", "--json"],
      suites,
    );
    expect(a).toMatchObject({ runs: 5, only: ["provider", "client-verify", "ipfs", "flood"], families: ["diffusion"], json: true });
    expect(Object.values(FIGURES).every((s) => suites.includes(s))).toBe(true);
  });

  test("error: bad usage names what was wrong", () => {
    expect(() => parseBenchArgs(["--runs", "0"], suites)).toThrow(/--runs must be an integer in 1..100, got "0"/);
    expect(() => parseBenchArgs(["--runs"], suites)).toThrow(/--runs needs a value/);
    expect(() => parseBenchArgs(["--only", "warp"], suites)).toThrow(UsageError);
    expect(() => parseBenchArgs(["--family", "gan"], suites)).toThrow(/--family must be one of field, diffusion/);
    expect(() => parseBenchArgs(["--fast"], suites)).toThrow(/unknown option --fast/);
  });
});

describe("median and spread", () => {
  test("default: median, min–max and quartiles of the samples, whatever their order", () => {
    expect(summarize([5, 1, 3, 2, 4])).toEqual({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(summarize([0.9, 1.1])).toMatchObject({ n: 2, median: 1, min: 0.9, max: 1.1 });
    expect(summarize([7])).toMatchObject({ n: 1, median: 7, q1: 7, q3: 7 });
  });

  test("behavior: one outlier run moves the spread, not the figure", () => {
    const r = measured({ name: "pipeline / bare session.run", unit: "ratio", target: 0.95 }, [0.97, 0.96, 0.2, 0.98, 0.97]);
    expect(r.value).toBe(0.97);
    expect(meetsTarget(r)).toBe(true);
    expect(summarize(r.samples!).min).toBe(0.2);
  });

  test("error: no samples, or one that is not a number, is refused", () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(/not a finite number/);
  });
});
