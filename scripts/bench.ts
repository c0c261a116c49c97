// `pnpm bench`: runs the benchmarks under scripts/bench/ (each exports
// `run(ctx)`, and `families` when it measures each model family), each figure
// `--runs` times; prints the median and spread of each figure and the load
// average it ran under, and writes bench/results.json. Targets are reported,
// never enforced: timing has no place in pass/fail. `--help` for the options.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseBenchArgs, USAGE, UsageError } from "./bench/lib/args.ts";
import { summarize } from "./bench/lib/stats.ts";
import { meetsTarget, type BenchModule, type BenchResult, type ModelFamily } from "./bench/types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const suites = readdirSync(join(root, "scripts", "bench"))
  .filter((f) => f.endsWith(".ts") && f !== "types.ts" && !f.startsWith("_"))
  .map((f) => f.replace(/\.ts$/, ""))
  .sort();

let args;
try {
  args = parseBenchArgs(process.argv.slice(2), suites);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const json = args.json;
// Under --json stdout carries exactly one JSON document: everything else (the benchmarks' own lines too) goes to stderr.
const print = json ? (...a: unknown[]) => console.error(...a) : (...a: unknown[]) => console.log(...a);
if (json) console.log = console.error;

const load = () => loadavg().map((l) => Number(l.toFixed(2))) as [number, number, number];
const fmtLoad = (l: readonly number[]) => l.join(" / ");

type Row = BenchResult & { suite: string; loadBefore: number[]; loadAfter: number[] };
const all: Row[] = [];
const failures: Array<{ suite: string; family?: ModelFamily; error: string }> = [];
const loadAtStart = load();
print(`load average (1/5/15 min) at start: ${fmtLoad(loadAtStart)} on ${cpus().length} CPUs; ${args.runs} run(s) per figure`);
for (const suite of suites.filter((s) => args.only.length === 0 || args.only.includes(s))) {
  const mod = (await import(pathToFileURL(join(root, "scripts", "bench", `${suite}.ts`)).href)) as BenchModule;
  const families: Array<ModelFamily | undefined> = mod.families ? mod.families.filter((f) => args.families.includes(f)) : [undefined];
  for (const family of families) {
    const label = family ? `${suite} (${family})` : suite;
    const loadBefore = load();
    print(`\n=== bench: ${label} === load ${fmtLoad(loadBefore)}`);
    const started = Date.now();
    try {
      const results = await mod.run({ runs: args.runs, family, log: (line) => print(`  ${line}`) });
      const loadAfter = load();
      for (const r of results) {
        const spread = r.samples && r.samples.length > 0 ? summarize(r.samples) : undefined;
        all.push({
          suite,
          ...r,
          ...(spread ? { value: spread.median, spread } : {}),
          ...(family ? { family } : {}),
          loadBefore,
          loadAfter,
        });
      }
      print(`(${((Date.now() - started) / 1000).toFixed(1)} s, load after ${fmtLoad(loadAfter)})`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ suite, ...(family ? { family } : {}), error });
      console.error(`bench ${label} failed: ${error}`);
    }
  }
  try {
    await mod.teardown?.();
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    failures.push({ suite, error: `teardown: ${error}` });
    console.error(`bench ${suite} teardown failed: ${error}`);
  }
}
const loadAtEnd = load();

const fmt = (n: number) =>
  Math.abs(n) >= 1000 ? n.toLocaleString("en-US", { maximumFractionDigits: 0 }) : Number(n.toPrecision(4)).toString();
const table = (rows: Row[]) =>
  rows.map((r) => {
    const ok = meetsTarget(r);
    return {
      suite: r.family ? `${r.suite} (${r.family})` : r.suite,
      figure: r.name,
      median: `${fmt(r.value)} ${r.unit}`,
      "min–max": r.spread && r.spread.n > 1 ? `${fmt(r.spread.min)}–${fmt(r.spread.max)}` : "",
      IQR: r.spread && r.spread.n > 3 ? `${fmt(r.spread.q1)}–${fmt(r.spread.q3)}` : "",
      n: r.spread?.n ?? 1,
      target: r.target === undefined ? "" : `${(r.better ?? "higher") === "higher" ? "≥" : "≤"} ${fmt(r.target)}`,
      met: ok === undefined ? "" : ok ? "yes" : "no",
    };
  });
const figures = all.filter((r) => !r.stage);
const stages = all.filter((r) => r.stage);
if (!json) {
  console.log("\n=== results ===");
  console.table(table(figures));
  if (stages.length > 0) {
    console.log("\n=== where the time goes (per-stage medians) ===");
    console.table(table(stages));
  }
  console.log(`load average (1/5/15 min): ${fmtLoad(loadAtStart)} at start, ${fmtLoad(loadAtEnd)} at the end, on ${cpus().length} CPUs`);
}
const document = {
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  runs: args.runs,
  load: { start: loadAtStart, end: loadAtEnd },
  results: all,
  failures,
};
mkdirSync(join(root, "bench"), { recursive: true });
const out = join(root, "bench", "results.json");
writeFileSync(out, JSON.stringify(document, null, 2) + "\n");
if (json) process.stdout.write(JSON.stringify(document) + "\n");
else console.log(`\nwrote ${out}`);
if (failures.length) {
  console.error(
    `${failures.length} benchmark(s) could not run: ${failures.map((f) => (f.family ? `${f.suite} (${f.family})` : f.suite)).join(", ")}`,
  );
  process.exit(1);
}
