// Client verification cost, per model family: CPU time the client spends
// verifying a job's segments (EIP-712 signature checks, sha256, ffmpeg
// decode, then the content check: for the field model, re-rendering random
// pixels of random frames; for the diffusion pipeline, re-executing sampled
// denoising steps of the committed trace and decoding a tile) as a fraction
// of the CPU time the providers spent rendering them. Target: at most 5%.
//
// Segments are rendered, encoded and signed as a provider does, at each
// family's native size and rate; IPFS is replaced by an in-memory map so that
// only the client's own work is measured. CPU time includes ffmpeg child
// processes, and the launcher that starts them (Linux: /proc). Each run renders and
// verifies its own segments (a new seed), so the ratio's samples are pairs.
// The provider counts as known to the client (a history of accepted
// segments), so a diffusion segment is checked with the manifest's k.
//
//   pnpm build && node scripts/bench.ts --only verify --runs 3
import { createHash } from "node:crypto";
import { Wallet } from "ethers";
import { defaultVerifierComponents, SegmentVerifier } from "@rendermesh/client";
import { eip712Domain, signAssignment, signDelivery } from "@rendermesh/shared/chain";
import { segmentCid } from "@rendermesh/shared/ipfs";
import {
  createSpotRenderer,
  defaultModel,
  encodeTrace,
  MemoryTraceStore,
  NEW_PROVIDER_SEGMENTS,
  PipelineRunner,
  publishTrace,
} from "@rendermesh/shared/model";
import { encodeSegment } from "@rendermesh/shared/media";
import { familySpec, openFamily } from "./lib/families.ts";
import { descendantsOf, readTreeCpu } from "./lib/proc-cpu.ts";
import { measured, MODEL_FAMILIES, type BenchContext, type BenchResult } from "./types.ts";

export const families = MODEL_FAMILIES;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

/**
 * CPU milliseconds of this process and of the programs it starts (ffmpeg,
 * whether reaped by this process or by its spawn launcher, which counts
 * too; Linux only, elsewhere this process's own CPU alone). `at: "start"`
 * reads its own CPU last and `"end"` first, so the /proc scan for the
 * launcher is outside what is measured.
 */
function cpuMs(at: "start" | "end"): number {
  const tree = () => (process.platform === "linux" ? (readTreeCpu(process.pid, descendantsOf(process.pid))?.children ?? 0) * 1000 : 0);
  const own = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  if (at === "start") {
    const t = tree();
    return t + own();
  }
  const o = own();
  return o + tree();
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const family = ctx.family ?? "field";
  const f = await openFamily(family);
  const coordinator = Wallet.createRandom();
  const provider = Wallet.createRandom();
  const chainId = 31337;
  const escrow = `0x${"ee".repeat(20)}`;
  const jobId = `0x${"42".repeat(32)}` as `0x${string}`;
  const domain = eip712Domain(chainId, escrow);
  const store = new Map<string, Uint8Array>();
  const traces = new MemoryTraceStore();
  const spot = await createSpotRenderer({ models: [defaultModel()] });
  // The client's own runner, opened as the client opens it (CPU, one thread).
  const clientRunner = f.pipeline ? await PipelineRunner.create({ pipeline: f.pipeline.pipeline, device: "cpu", threads: 1, logger: { info() {}, warn() {} } }) : undefined;
  const pipelines = new Map<string, PipelineRunner>(clientRunner ? [[f.modelId.toLowerCase(), clientRunner]] : []);
  const verifier = new SegmentVerifier(
    defaultVerifierComponents({
      store: {
        get: async (cid: { toString(): string }) => store.get(cid.toString())!,
        getBlock: async (cid: { toString(): string }) => traces.get(cid as never),
      } as never,
      spot,
      pipelines,
    }),
    // The figure is the steady state: a provider with a history here is checked with the manifest's k
    // (stepsPerCheck), not NEW_PROVIDER_STEPS as in its first NEW_PROVIDER_SEGMENTS segments.
    { acceptedTraces: new Map([[provider.address, NEW_PROVIDER_SEGMENTS]]) },
  );
  const ratios: number[] = [];
  const verifyPerSegment: number[] = [];
  const renderPerSegment: number[] = [];
  const wallPerSegment: number[] = [];
  const stageTimes: Record<"fetchMs" | "hashMs" | "decodeMs" | "renderMs" | "totalMs", number[]> = {
    fetchMs: [],
    hashMs: [],
    decodeMs: [],
    renderMs: [],
    totalMs: [],
  };
  let worst = Infinity;
  try {
    // Warm the ONNX sessions (a one-time cost per client, not per job).
    if (family === "field") await spot.renderPixels(familySpec(f, "warm", 0), 0, Uint32Array.of(0));
    else await clientRunner?.encodeText("warm");
    for (let r = 0; r < ctx.runs; r++) {
      const spec = familySpec(f, "benchmark: a red circle moving left on a blue background", 3 + r, SECONDS);
      // The providers' side: render (measured), then encode, commit and sign (not counted as render time).
      let renderCpu = 0;
      const segments = [];
      for (let s = 0; s < SECONDS; s++) {
        const firstFrame = s * f.frames;
        const t0 = cpuMs("start");
        let frames: Uint8Array[] = [];
        let trace: string | undefined;
        if (f.renderer.renderSegment) {
          const gen = await f.renderer.renderSegment({ spec, firstFrame, frameCount: f.frames });
          renderCpu += cpuMs("end") - t0;
          frames = gen.frames;
          const committed = await encodeTrace(gen.trace);
          trace = (await publishTrace(committed, traces)).toString();
        } else {
          for await (const frame of f.renderer.renderFrames({ spec, firstFrame, frameCount: f.frames })) frames.push(frame);
          renderCpu += cpuMs("end") - t0;
        }
        const bytes = await encodeSegment(frames, spec);
        const cid = (await segmentCid(bytes)).toString();
        store.set(cid, bytes);
        const assignment = { jobId, segment: s, firstFrame, frameCount: f.frames, provider: provider.address as `0x${string}`, deadline: 2_000_000_000 };
        const delivery = {
          jobId,
          segment: s,
          cid,
          sha256: `0x${createHash("sha256").update(bytes).digest("hex")}` as `0x${string}`,
          frameCount: f.frames,
          ...(trace ? { trace } : {}),
        };
        segments.push({
          jobId,
          segment: s,
          peerId: "bench",
          multiaddrs: [],
          assignment: { assignment, signature: await signAssignment(coordinator, domain, assignment) },
          delivery: { delivery, signature: await signDelivery(provider, domain, delivery) },
        });
      }

      // The client's side, as SegmentVerifier runs it for each delivered segment.
      const job = { jobId, spec, chainId, escrow, coordinator: coordinator.address };
      const t0 = cpuMs("start");
      const wall0 = performance.now();
      for (const seg of segments) {
        const v = await verifier.verify(job, seg);
        if (!v.ok) throw new Error(`honest segment ${seg.segment} failed verification: ${v.failure.message}`);
        worst = Math.min(worst, v.psnrDb);
        for (const key of Object.keys(stageTimes) as Array<keyof typeof stageTimes>) stageTimes[key].push(v.timings[key]);
      }
      const verifyCpu = cpuMs("end") - t0;
      const wall = performance.now() - wall0;
      ratios.push((100 * verifyCpu) / renderCpu);
      verifyPerSegment.push(verifyCpu / SECONDS);
      renderPerSegment.push(renderCpu / SECONDS);
      wallPerSegment.push(wall / SECONDS);
      ctx.log(`run ${r + 1}/${ctx.runs}: verify ${(verifyCpu / SECONDS).toFixed(0)} ms CPU per segment, render ${(renderCpu / SECONDS).toFixed(0)} ms, ${((100 * verifyCpu) / renderCpu).toFixed(2)}%`);
    }
  } finally {
    await spot.close();
    await clientRunner?.close();
    await f.close();
  }
  const note = `${SECONDS} s of ${f.describe}`;
  const results: BenchResult[] = [
    measured({ name: "client verify CPU / provider render CPU", unit: "%", target: 5, better: "lower", note }, ratios),
    measured({ name: "client verify CPU per segment", unit: "ms", better: "lower" }, verifyPerSegment),
    measured({ name: "provider render CPU per segment", unit: "ms", better: "lower" }, renderPerSegment),
    measured({ name: "client verify wall time per segment", unit: "ms", better: "lower" }, wallPerSegment),
  ];
  const labels = {
    fetchMs: "fetch (in memory here)",
    hashMs: "sha256",
    decodeMs: "ffmpeg decode",
    renderMs: family === "field" ? "spot-check re-render" : "committed steps re-run + tile decode",
    totalMs: "segment total",
  };
  for (const [key, label] of Object.entries(labels) as Array<[keyof typeof stageTimes, string]>)
    results.push(measured({ name: `stage: verify ${label} (wall)`, unit: "ms", better: "lower", stage: true }, stageTimes[key]));
  if (Number.isFinite(worst)) results.push({ name: "lowest luma PSNR of honest segments", value: Number(worst.toFixed(1)), unit: "dB", target: 33, better: "higher" });
  return results;
}
