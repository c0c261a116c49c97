// CLI start-up benchmark (part of `pnpm bench`; needs `pnpm build`):
// `rendermesh --help` from the built package, as a user runs it — wall time
// (median of 7 runs, after one warm-up) and peak RSS (the largest of the
// runs). Targets: ≤ 300 ms and ≤ 100 MB. What it may load is a test
// (test/loading.test.ts); how fast that is, is measured here.
// Run alone: node scripts/bench/cli.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const RUNS = 7;

function once(argv: string[], rssFile: string): { ms: number; rssKiB: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, ["--import", join(root, "scripts", "bench", "_max-rss.mjs"), join(root, "packages", "client", "bin", "rendermesh.js"), ...argv], {
    cwd: root,
    env: { ...process.env, RENDERMESH_BENCH_RSS_FILE: rssFile },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`rendermesh ${argv.join(" ")} exited ${r.status}: ${r.stderr.toString().trim()}`);
  return { ms, rssKiB: Number(readFileSync(rssFile, "utf8")) };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-cli-"));
  try {
    const rssFile = join(dir, "rss");
    once(["--help"], rssFile); // warm-up: the file system cache, not the process, is what it warms
    const runs = Array.from({ length: RUNS }, () => once(["--help"], rssFile));
    const times = runs.map((r) => r.ms).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const peakMiB = Math.max(...runs.map((r) => r.rssKiB)) / 1024;
    console.log(`rendermesh --help: median ${median.toFixed(0)} ms over ${RUNS} runs (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)}), peak RSS ${peakMiB.toFixed(1)} MiB`);
    return [
      { name: "rendermesh --help wall time (median)", value: median, unit: "ms", target: 300, better: "lower", note: `${RUNS} runs` },
      { name: "rendermesh --help peak RSS", value: peakMiB, unit: "MiB", target: 100, better: "lower" },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit} (target ≤ ${r.target})`);
}
