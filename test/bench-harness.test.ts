// The bench harness's own logic (scripts/bench/lib): argument parsing and
// the median/spread of repeated measurements, the CPU account of a job's
// processes. No benchmark runs here.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, test } from "vitest";
import { FIGURES, parseBenchArgs, UsageError } from "../scripts/bench/lib/args.ts";
import { CpuSampler, descendantsOf, parseProcStat, readProcCpu, readTreeCpu } from "../scripts/bench/lib/proc-cpu.ts";
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

/** Spins until this process has used `seconds` of CPU by its own count (work, not wall time: the same on a slow machine). */
function burnCpu(seconds: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const u = process.cpuUsage(start);
    if ((u.user + u.system) / 1e6 >= seconds) return;
  }
}

describe.runIf(process.platform === "linux")("the CPU account of a network's processes (/proc)", () => {
  test("default: a stat line's CPU fields, counted from the last parenthesis of a command name that holds spaces and parentheses", () => {
    const fields = ["S", ...Array.from({ length: 10 }, (_, i) => String(i + 1)), "250", "50", "700", "100", "20", "0"];
    expect(parseProcStat(`4242 (node (worker) x) ${fields.join(" ")}`)).toEqual({ own: 3, children: 8 });
    expect(() => parseProcStat("4242 no name")).toThrow(/not a \/proc\/<pid>\/stat line/);
    expect(() => parseProcStat(`1 (x) S ${"1 ".repeat(10)}u 2 3 4`)).toThrow(/field 14 is not a number: "u"/);
  });

  test("behavior: a child's CPU shows in its parent's children once it is reaped; a process that is gone reads as undefined", async () => {
    const before = readProcCpu("self")!;
    const child = spawn(process.execPath, ["-e", `const s = process.cpuUsage(); while (process.cpuUsage(s).user < 300_000);`], {
      stdio: "ignore",
    });
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(0);
    const after = readProcCpu("self")!;
    expect(after.children - before.children).toBeGreaterThanOrEqual(0.2);
    expect(readProcCpu(2 ** 31 - 1)).toBeUndefined();
  });

  test("behavior: a process tree's CPU counts the live grandchild that a child started (a spawn launcher's ffmpeg)", async () => {
    // The child starts a grandchild that burns 0.25 s of CPU, says so, and stays alive until the child's stdin ends.
    const grandchild = `const s = process.cpuUsage(); while (process.cpuUsage(s).user < 250_000); console.log("burned"); process.stdin.resume();`;
    const child = spawn(
      process.execPath,
      [
        "-e",
        `const c = require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(grandchild)}], { stdio: ["pipe", "inherit", "inherit"] }); process.stdin.on("end", () => c.stdin.end()); process.stdin.resume();`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    try {
      const [line] = (await once(child.stdout, "data")) as [Buffer];
      expect(line.toString().trim()).toBe("burned");
      const tree = descendantsOf(process.pid);
      expect(tree).toContain(child.pid);
      expect(tree.length).toBeGreaterThanOrEqual(2);
      const mine = readTreeCpu(process.pid, tree)!;
      const withoutThem = readTreeCpu(process.pid, [])!;
      expect(mine.children - withoutThem.children).toBeGreaterThanOrEqual(0.2);
    } finally {
      child.stdin.end();
      await once(child, "exit");
    }
  });

  test("behavior: the sampler counts the CPU a process used between two instants, and nothing outside them", () => {
    const sampler = new CpuSampler({ self: process.pid }, 60_000);
    try {
      burnCpu(0.05);
      sampler.sample();
      const from = Date.now();
      burnCpu(0.3);
      const to = Date.now();
      sampler.sample();
      const { own: used, children } = sampler.between(from, to).self!;
      expect(children).toBe(0);
      // /proc counts in 10 ms ticks, and the readings sit a moment outside the instants (linear between them).
      expect(used).toBeGreaterThanOrEqual(0.2);
      expect(used).toBeLessThanOrEqual(((to - from) / 1000) * 2 + 0.05);
      expect(sampler.between(to + 1, to + 1000).self).toEqual({ own: 0, children: 0 });
    } finally {
      sampler.stop();
    }
  });
});
