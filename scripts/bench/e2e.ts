// End-to-end efficiency on the local network, per model family: the ideal
// time over the wall time from the coordinator accepting the job to its last
// segment being verified. One network (3 providers serving both families)
// runs `--runs` 12-second jobs one after another; each job is one sample.
// The network is started once for both families and stopped by `teardown`.
//
// The ideal is what this machine's cores can do at best: the faster of the
// bare `session.run` calls of the whole job (every segment, the same shapes,
// one ONNX Runtime session using every core) and the job's segments split
// over one single-thread renderer per core, rendering at once (ONNX
// Runtime's parallel operators wait for their slowest thread, so on a small
// machine the second is the faster: 1.2–1.8× here). Both run in this process
// right after each job, so they see the same load. On one machine the three providers
// share those cores, so "each provider's render time over 3" (the figure
// before) was no ideal at all: each render stretches while the others run.
// Everything else the network does (encode, IPFS, signing, scheduling, the
// client's verification on the same cores) counts against the figure. Each
// job also says how much CPU every process of the network used during it
// (/proc): the job's wall is at least that CPU over the cores, so
// ideal × cores / CPU is as high as the figure can go on one machine.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { defaultModel, defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { repoRoot, startDevNetwork } from "../lib/devnet.ts";
import { openFamily, type OpenFamily } from "./lib/families.ts";
import { CpuSampler } from "./lib/proc-cpu.ts";
import { measured, MODEL_FAMILIES, type BenchContext, type BenchResult } from "./types.ts";

export const families = MODEL_FAMILIES;

/** BENCH_PROVIDERS: another network size, for a diagnosis (the figure is defined with 3). */
const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 3);
const SECONDS = 12;
const cores = availableParallelism();

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

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

/** The coordinator's counts of speculative copies and timed-out attempts since it started. */
async function coordinatorCounts(httpUrl: string): Promise<{ speculative: number; timeouts: number }> {
  const text = await getText(`${httpUrl}/metrics`);
  const count = (name: string) => Number(new RegExp(`^rendermesh_coordinator_${name}_total ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? 0);
  return { speculative: count("speculative"), timeouts: count("timeouts") };
}

/** One local network for both families (its providers serve both models): started by the first, stopped by `teardown`. */
let shared: Promise<{ net: Awaited<ReturnType<typeof startDevNetwork>>; dir: string }> | undefined;
function network() {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-bench-e2e-"));
    return { net: await startDevNetwork({ dir, providers: PROVIDERS, log: () => {} }), dir };
  })();
  const starting = shared;
  starting.catch(() => {
    if (shared === starting) shared = undefined;
  });
  return starting;
}

/** Called by `pnpm bench` once every family has run. */
export async function teardown(): Promise<void> {
  const running = shared;
  shared = undefined;
  if (!running) return;
  const { net, dir } = await running;
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
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
  const prompt = "a red circle moving left on a blue background";
  const [width, height] = job.size.split("x").map(Number) as [number, number];
  const bareFamily = await openFamily(family);
  const perCore: OpenFamily[] = [];
  const closeBare = () => Promise.allSettled([bareFamily, ...perCore].map((f) => f.close()));
  const jobSpec = (seed: number) => ({ v: 1 as const, model: job.model as `0x${string}`, prompt, seed, seconds: SECONDS, fps: job.fps, width, height });
  /** Seconds of bare inference for the whole job, and the CPU-seconds it took: one session on every core, segment after segment. */
  const bareJob = async (seed: number) => {
    const cpu = process.cpuUsage();
    let seconds = 0;
    for (let s = 0; s < SECONDS; s++) seconds += await bareFamily.bare(jobSpec(seed + s));
    return { seconds, cpu: cpuSeconds(process.cpuUsage(cpu)) };
  };
  /** Renders segment `s` of the job on `f`'s inference thread. */
  const renderOn = async (f: OpenFamily, seed: number, s: number) => {
    const frames = { spec: jobSpec(seed), firstFrame: s * job.fps, frameCount: job.fps };
    if (f.renderer.renderSegment) await f.renderer.renderSegment(frames);
    else for await (const frame of f.renderer.renderFrames(frames)) void frame;
  };
  /** Seconds (and CPU-seconds) for the whole job's segments split over one single-thread renderer per core, all rendering at once. */
  const perCoreJob = async (seed: number) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(
      perCore.map(async (f, i) => {
        for (let s = i; s < SECONDS; s += perCore.length) await renderOn(f, seed, s);
      }),
    );
    return { seconds: (performance.now() - start) / 1000, cpu: cpuSeconds(process.cpuUsage(cpu)) };
  };
  try {
    for (let i = 0; i < cores; i++) perCore.push(await openFamily(family, 1));
    // Warm each up once (its sessions' first runs), as the providers are by the jobs before.
    await Promise.all(perCore.map((f) => renderOn(f, 1, 0)));
  } catch (err) {
    await closeBare();
    throw err;
  }
  const { net, dir } = await network().catch(async (err: unknown) => {
    await closeBare();
    throw err;
  });
  const efficiency: number[] = [];
  const ideals: number[] = [];
  const serialIdeals: number[] = [];
  const perCoreIdeals: number[] = [];
  const walls: number[] = [];
  const totals: number[] = [];
  const stages = { firstAssigned: [] as number[], lastDelivered: [] as number[], tail: [] as number[] };
  // Where the job's CPU went: every process of the network, the client included once it is spawned.
  const sampler = new CpuSampler({
    ...Object.fromEntries(net.dev.providers.map((p, i) => [`provider ${i + 1}`, p.pid])),
    coordinator: net.dev.coordinator.pid,
    arbiter: net.dev.arbiter?.pid,
    chain: net.dev.hardhatPid,
  });
  const cpuStages = {
    network: [] as number[],
    inference: [] as number[],
    providers: [] as number[],
    providersFfmpeg: [] as number[],
    client: [] as number[],
    rest: [] as number[],
  };
  const bounds: number[] = [];
  try {
    const rendered = async () => {
      let total = 0;
      for (const p of net.dev.providers) total += await renderSeconds(p.metricsUrl!);
      return total;
    };
    for (let r = 0; r < ctx.runs; r++) {
      const out = join(dir, `out-${family}-${r}`);
      const before = await rendered();
      const countsBefore = await coordinatorCounts(net.dev.coordinator.httpUrl);
      const argv = ["job", "submit", "--prompt", prompt, "--seconds", String(SECONDS)];
      argv.push("--fps", String(job.fps), "--size", job.size, "--model", job.model, "--seed", String(100 + r), "--out", out);
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [join(repoRoot, "packages/client/bin/rendermesh.js"), ...argv], {
          env: { ...process.env, RENDERMESH_DEV_FILE: net.file },
          stdio: "ignore",
        });
        if (child.pid !== undefined) sampler.watch("client", child.pid);
        child.on("exit", (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new Error(`job ${r + 1} failed (exit ${code}); logs in ${dir}/logs`);
      const jobId = readdirSync(out)[0]!;
      const http = net.dev.coordinator.httpUrl;
      const { events } = JSON.parse(await getText(`${http}/api/jobs/${jobId}/events`)) as { events: Array<{ type: string; at: number }> };
      const start = events.find((e) => e.type === "job-accepted")!.at;
      const end = events.find((e) => e.type === "job-complete")!.at;
      const wall = (end - start) / 1000;
      // Where the wall went: from acceptance to the first assignment, to the last delivery, then the client's last verdicts.
      const at = (type: string, pick: (list: number[]) => number) => {
        const list = events.filter((e) => e.type === type).map((e) => (e.at - start) / 1000);
        return list.length > 0 ? pick(list) : NaN;
      };
      const firstAssigned = at("segment-assigned", (l) => Math.min(...l));
      const lastDelivered = at("segment-delivered", (l) => Math.max(...l));
      const deliveries = events.filter((e) => e.type === "segment-delivered").length;
      stages.firstAssigned.push(firstAssigned);
      stages.lastDelivered.push(lastDelivered);
      stages.tail.push(wall - lastDelivered);
      const cpu = sampler.between(start, end);
      const renderTotal = (await rendered()) - before;
      const countsAfter = await coordinatorCounts(http);
      const speculative = countsAfter.speculative - countsBefore.speculative;
      const timeouts = countsAfter.timeouts - countsBefore.timeouts;
      // The network is idle now: the bare run of the same job sees the load the job saw, not the job itself.
      const bare = await bareJob(100 + r);
      const split = await perCoreJob(100 + r);
      const [serial, parallel] = [bare.seconds, split.seconds];
      const ideal = Math.min(serial, parallel);
      const total = (c: { own: number; children: number } | undefined) => (c ? c.own + c.children : 0);
      const used = sum(Object.values(cpu).map(total));
      const byProviders = sum(Object.entries(cpu).flatMap(([name, v]) => (name.startsWith("provider") ? [total(v)] : [])));
      const providersFfmpeg = sum(Object.entries(cpu).flatMap(([name, v]) => (name.startsWith("provider") ? [v.children] : [])));
      const inference = Math.min(bare.cpu, split.cpu);
      const bound = (ideal * cores) / used;
      cpuStages.network.push(used);
      cpuStages.inference.push(inference);
      cpuStages.providers.push(byProviders);
      cpuStages.providersFfmpeg.push(providersFfmpeg);
      cpuStages.client.push(total(cpu.client));
      cpuStages.rest.push(used - byProviders - total(cpu.client));
      bounds.push(bound);
      efficiency.push(ideal / wall);
      ideals.push(ideal);
      serialIdeals.push(serial);
      perCoreIdeals.push(parallel);
      walls.push(wall);
      totals.push(renderTotal);
      ctx.log(
        `job ${r + 1}/${ctx.runs}: wall ${wall.toFixed(2)} s, ideal ${ideal.toFixed(2)} s (bare inference of the job on ${cores} cores: one session on all ${serial.toFixed(2)} s, a single-thread renderer per core ${parallel.toFixed(2)} s), efficiency ${(ideal / wall).toFixed(3)} (providers' render time ${renderTotal.toFixed(2)} s; ${speculative} speculative copies, ${timeouts} attempts timed out; first assignment +${firstAssigned.toFixed(2)} s, last of ${deliveries} deliveries +${lastDelivered.toFixed(2)} s, then ${(wall - lastDelivered).toFixed(2)} s to the last verdict)`,
      );
      ctx.log(
        `  CPU in the job: ${used.toFixed(2)} CPU-s of the ${(wall * cores).toFixed(2)} the ${cores} cores had (${Object.entries(cpu)
          .map(([name, v]) => `${name} ${total(v).toFixed(2)}${v.children > 0 ? ` (ffmpeg and its launcher ${v.children.toFixed(2)})` : ""}`)
          .join(", ")}); the job's bare inference takes ${inference.toFixed(2)} CPU-s, so ${(((used - inference) / used) * 100).toFixed(0)} % of the job's CPU went to other work, and on one machine the figure can reach at most ${bound.toFixed(2)}`,
      );
    }
  } catch (err) {
    // The next family gets a fresh network; this one's logs stay for a look.
    ctx.log(`kept ${dir} (logs under logs/)`);
    shared = undefined;
    sampler.stop();
    await net.stop();
    await closeBare();
    throw err;
  }
  sampler.stop();
  await closeBare();
  const note = `${SECONDS} s at ${job.size}@${job.fps}, ${PROVIDERS} providers on one machine (${cores} cores); ideal = the faster bare inference of the job on those cores`;
  return [
    measured({ name: `end-to-end efficiency (ideal / actual), ${SECONDS} s job, ${PROVIDERS} providers`, unit: "ratio", target: 0.9, note }, efficiency),
    measured({ name: "job wall time, accepted → complete", unit: "s", better: "lower", note }, walls),
    measured({ name: "ideal: bare inference of the whole job, the faster of the two below", unit: "s", better: "lower", note }, ideals),
    measured({ name: "bare inference of the job, one session on every core", unit: "s", better: "lower", note }, serialIdeals),
    measured({ name: `bare inference of the job, ${cores} single-thread renderers at once`, unit: "s", better: "lower", note }, perCoreIdeals),
    measured({ name: "providers' total render time (wall, summed over segments)", unit: "s", better: "lower", note }, totals),
    measured({ name: "stage: accepted → first segment assigned", unit: "s", better: "lower", stage: true }, stages.firstAssigned),
    measured({ name: "stage: accepted → last segment delivered", unit: "s", better: "lower", stage: true }, stages.lastDelivered),
    measured({ name: "stage: last delivery → job complete (the last verdicts)", unit: "s", better: "lower", stage: true }, stages.tail),
    measured(
      { name: "one-machine bound: ideal × cores / CPU the network used in the job (the figure cannot exceed it)", unit: "ratio", note },
      bounds,
    ),
    measured({ name: "CPU in the job: every process of the network", unit: "CPU-s", better: "lower", stage: true }, cpuStages.network),
    measured({ name: "CPU in the job: the providers (with their ffmpeg)", unit: "CPU-s", better: "lower", stage: true }, cpuStages.providers),
    measured({ name: "CPU in the job: the providers' ffmpeg (and spawn launchers)", unit: "CPU-s", better: "lower", stage: true }, cpuStages.providersFfmpeg),
    measured({ name: "CPU in the job: the client (with its ffmpeg)", unit: "CPU-s", better: "lower", stage: true }, cpuStages.client),
    measured({ name: "CPU in the job: coordinator, arbiter, chain", unit: "CPU-s", better: "lower", stage: true }, cpuStages.rest),
    measured({ name: "CPU of the job's bare inference (the cheaper of the two ideals)", unit: "CPU-s", better: "lower", stage: true }, cpuStages.inference),
  ];
}
