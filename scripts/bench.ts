// `pnpm bench`: runs every benchmark under scripts/bench/ (each exports
// `run()`), prints one table and writes bench/results.json. Targets are
// reported, never enforced: timing has no place in pass/fail.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { meetsTarget, type BenchModule, type BenchResult } from "./bench/types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const files = readdirSync(join(root, "scripts", "bench"))
  .filter((f) => f.endsWith(".ts") && f !== "types.ts" && !f.startsWith("_"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const all: Array<BenchResult & { suite: string }> = [];
const failures: Array<{ suite: string; error: string }> = [];
for (const file of files) {
  const suite = file.replace(/\.ts$/, "");
  console.log(`\n=== bench: ${suite} ===`);
  const started = Date.now();
  try {
    const mod = (await import(pathToFileURL(join(root, "scripts", "bench", file)).href)) as BenchModule;
    const results = await mod.run();
    for (const r of results) all.push({ suite, ...r });
    console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    failures.push({ suite, error });
    console.error(`bench ${suite} failed: ${error}`);
  }
}

const fmt = (n: number) =>
  Math.abs(n) >= 1000 ? n.toLocaleString("en-US", { maximumFractionDigits: 0 }) : Number(n.toPrecision(4)).toString();
console.log("\n=== results ===");
console.table(
  all.map((r) => {
    const ok = meetsTarget(r);
    return {
      suite: r.suite,
      figure: r.name,
      value: `${fmt(r.value)} ${r.unit}`,
      target: r.target === undefined ? "" : `${(r.better ?? "higher") === "higher" ? "≥" : "≤"} ${fmt(r.target)}`,
      met: ok === undefined ? "" : ok ? "yes" : "no",
    };
  }),
);
mkdirSync(join(root, "bench"), { recursive: true });
const out = join(root, "bench", "results.json");
writeFileSync(
  out,
  JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      results: all,
      failures,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${out}`);
if (failures.length) {
  console.error(`${failures.length} benchmark(s) could not run: ${failures.map((f) => f.suite).join(", ")}`);
  process.exit(1);
}
