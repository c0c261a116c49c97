// End-to-end efficiency on the local network: ideal time (the providers'
// total render time spread over the providers) over the wall time from the
// coordinator accepting the job to its last segment being verified.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot, startDevNetwork } from "../lib/devnet.ts";
import type { BenchResult } from "./types.ts";

const PROVIDERS = 3;

async function renderSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(/^rendermesh_provider_segment_render_seconds_sum(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text)?.[1] ?? 0);
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-e2e-"));
  const net = await startDevNetwork({ dir, providers: PROVIDERS, log: () => {} });
  try {
    const out = join(dir, "out");
    const code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(repoRoot, "packages/client/bin/rendermesh.js"), "job", "submit", "--prompt", "slow golden waves", "--seconds", "12", "--fps", "12", "--size", "128x128", "--out", out],
        { env: { ...process.env, RENDERMESH_DEV_FILE: net.file }, stdio: "ignore" },
      );
      child.on("exit", (c) => resolve(c ?? 1));
    });
    if (code !== 0) throw new Error(`the job failed (exit ${code}); logs in ${dir}/logs`);
    const http = net.dev.coordinator.httpUrl;
    const { jobs } = (await (await fetch(`${http}/api/jobs`)).json()) as { jobs: Array<{ jobId: string }> };
    const { events } = (await (await fetch(`${http}/api/jobs/${jobs[0]!.jobId}/events`)).json()) as { events: Array<{ type: string; at: number }> };
    const start = events.find((e) => e.type === "job-accepted")!.at;
    const end = events.find((e) => e.type === "job-complete")!.at;
    const wall = (end - start) / 1000;
    let total = 0;
    for (const p of net.dev.providers) total += await renderSeconds(p.metricsUrl!);
    const ideal = total / PROVIDERS;
    return [
      { name: "end-to-end efficiency (ideal / actual), 12 s job, 3 providers", value: ideal / wall, unit: "ratio", target: 0.9 },
      { name: "job wall time, accepted → complete", value: wall, unit: "s", better: "lower" },
      { name: "providers' total render time", value: total, unit: "s", better: "lower" },
    ];
  } finally {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run());
}
