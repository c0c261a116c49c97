// Verification by committed steps on the default diffusion pipeline: a short
// run of the trust study (scripts/lib/diffusion-trust.ts): the rate at which
// wrong segments (eleven cheats) are accepted, the rate at which honest ones
// (other thread counts and guidance batch sizes, and checked as a new
// provider's) are refused, and the client's verification CPU against the
// provider's render CPU (k = the manifest's, and k for a new provider).
// BENCH_TRUST_PER_CLASS (default 3) segments of each of the 16 classes.
//
//   node scripts/bench/diffusion-trust.ts   (or `pnpm bench diffusion`)
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runTrustStudy } from "../lib/diffusion-trust.ts";
import type { BenchResult } from "./types.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function run(): Promise<BenchResult[]> {
  const perClass = Number(process.env.BENCH_TRUST_PER_CLASS ?? 3);
  const r = await runTrustStudy({ pipelinePath: join(repoRoot, "models", "diffusion-default", "pipeline.json"), perClass, log: (l) => console.log(`   ${l}`) });
  const note = `${r.segments} segments, k=${r.k} of ${r.steps} steps; full study: scripts/diffusion-trust-study.ts`;
  return [
    { name: "diffusion: wrong segments accepted", value: r.falseAccept * 100, unit: "%", target: 1, better: "lower", note },
    { name: "diffusion: honest segments refused", value: r.falseReject * 100, unit: "%", target: 1, better: "lower", note },
    { name: "diffusion: verification CPU / render CPU", value: r.costRatio * 100, unit: "%", target: 5, better: "lower", note: `${r.verifyCpuMs.toFixed(1)} ms vs ${r.renderCpuMs.toFixed(0)} ms per segment (median)` },
    // No target: the first NEW_PROVIDER_SEGMENTS segments of each provider only.
    { name: "diffusion: verification CPU / render CPU, new provider", value: r.newProviderCostRatio * 100, unit: "%", better: "lower", note: "k = NEW_PROVIDER_STEPS" },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) console.table(await run());
