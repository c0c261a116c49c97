// End-to-end efficiency on the local network, per model family: ideal time
// (the providers' total render time for the job spread over the providers)
// over the wall time from the coordinator accepting the job to its last
// segment being verified. One network (3 providers serving both families)
// runs `--runs` 12-second jobs one after another; each job is one sample.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultModel, defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { repoRoot, startDevNetwork } from "../lib/devnet.ts";
import { measured, MODEL_FAMILIES, type BenchContext, type BenchResult } from "./types.ts";

export const families = MODEL_FAMILIES;

const PROVIDERS = 3;
const SECONDS = 12;

async function getText(url: string): Promise<string> {
  try {
    return await (await fetch(url)).text();
  } catch (cause) {
    throw new Error(`GET ${url} failed: ${String((cause as Error).cause ?? cause)}`, { cause });
  }
}

async function renderSeconds(metricsUrl: string): Promise<number> {
  const text = await getText(metricsUrl);
  return Number(/^rendermesh_provider_segment_render_seconds_sum(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text)?.[1] ?? 0);
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const family = ctx.family ?? "field";
  const job =
    family === "field"
      ? { model: defaultModel().manifest.id, fps: 12, size: "128x128" }
      : await (async () => {
          const { manifest } = await loadPipeline(defaultPipelinePath());
          return { model: manifest.id, fps: manifest.video.fps, size: `${manifest.video.width}x${manifest.video.height}` };
        })();
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-e2e-"));
  const net = await startDevNetwork({ dir, providers: PROVIDERS, log: () => {} });
  const efficiency: number[] = [];
  const walls: number[] = [];
  const totals: number[] = [];
  try {
    const rendered = async () => {
      let total = 0;
      for (const p of net.dev.providers) total += await renderSeconds(p.metricsUrl!);
      return total;
    };
    for (let r = 0; r < ctx.runs; r++) {
      const out = join(dir, `out-${r}`);
      const before = await rendered();
      const argv = ["job", "submit", "--prompt", "a red circle moving left on a blue background", "--seconds", String(SECONDS)];
      argv.push("--fps", String(job.fps), "--size", job.size, "--model", job.model, "--seed", String(100 + r), "--out", out);
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [join(repoRoot, "packages/client/bin/rendermesh.js"), ...argv], {
          env: { ...process.env, RENDERMESH_DEV_FILE: net.file },
          stdio: "ignore",
        });
        child.on("exit", (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new Error(`job ${r + 1} failed (exit ${code}); logs in ${dir}/logs`);
      const jobId = readdirSync(out)[0]!;
      const http = net.dev.coordinator.httpUrl;
      const { events } = JSON.parse(await getText(`${http}/api/jobs/${jobId}/events`)) as { events: Array<{ type: string; at: number }> };
      const start = events.find((e) => e.type === "job-accepted")!.at;
      const end = events.find((e) => e.type === "job-complete")!.at;
      const wall = (end - start) / 1000;
      const total = (await rendered()) - before;
      efficiency.push(total / PROVIDERS / wall);
      walls.push(wall);
      totals.push(total);
      ctx.log(`job ${r + 1}/${ctx.runs}: wall ${wall.toFixed(2)} s, render ${total.toFixed(2)} s over ${PROVIDERS} providers, efficiency ${(total / PROVIDERS / wall).toFixed(3)}`);
    }
  } catch (err) {
    ctx.log(`kept ${dir} (logs under logs/)`);
    await net.stop();
    throw err;
  }
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
  const note = `${SECONDS} s at ${job.size}@${job.fps}, ${PROVIDERS} providers`;
  return [
    measured({ name: `end-to-end efficiency (ideal / actual), ${SECONDS} s job, ${PROVIDERS} providers`, unit: "ratio", target: 0.9, note }, efficiency),
    measured({ name: "job wall time, accepted → complete", unit: "s", better: "lower", note }, walls),
    measured({ name: "providers' total render time", unit: "s", better: "lower", note }, totals),
  ];
}
