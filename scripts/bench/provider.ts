// Provider pipeline throughput, per model family: a run of SEGMENTS
// segments through the provider's pipeline (render → ffmpeg H.264 encode →
// Content Credentials → sha256 → add + pin to the embedded Helia store → the trace committed for a
// diffusion pipeline → EIP-712 delivery signature), scheduled as the render
// service schedules them (`RenderOverlap`: the next segment renders while
// the previous one encodes, pins and signs), against the bare `session.run`
// calls of the same segments with the same shapes and threads, back to
// back. The ratio (frames/s of the pipeline over frames/s of bare inference)
// says how much the rest of the pipeline costs on top of inference; the
// target is 0.95 or better. Each run measures the bare segments and the
// pipeline segments back to back, so both see the same machine load; the
// ratio's samples are per run. The per-stage medians (`stage: true`) say
// where a segment's time goes.
//
//   pnpm build && node scripts/bench.ts --only pipeline --runs 5
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { produceSegment, RenderOverlap, type SegmentTimings } from "@rendermesh/provider-node";
import { eip712Domain, signDelivery } from "@rendermesh/shared/chain";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import { credentialSegment, loadOrCreateProvenanceIdentity } from "@rendermesh/shared/provenance";
import { Wallet } from "ethers";
import { familySpec, openFamily, pooledFamilyRenderer, type OpenFamily } from "./lib/families.ts";
import { median } from "./lib/stats.ts";
import { measured, MODEL_FAMILIES, type BenchContext, type BenchResult } from "./types.ts";

export const families = MODEL_FAMILIES;

/** Segments per run: enough for the overlap of one segment's encode with the next render to show, as in a job. */
const SEGMENTS = 3;
/** BENCH_OVERLAP=0: segments one after another, as before the render service overlapped them (an A/B switch). */
const OVERLAP = process.env.BENCH_OVERLAP !== "0";
/**
 * Renderers of the `--concurrency` figure: one per core, each on one thread (BENCH_CONCURRENT=0 leaves the
 * figure out). It says what a CPU provider gains by rendering that many segments at once instead of one on
 * every core; it has no target, since its yardstick is not the same configuration.
 */
const CONCURRENT = process.env.BENCH_CONCURRENT === "0" ? 1 : availableParallelism();

const STAGES: ReadonlyArray<[keyof SegmentTimings, string]> = [
  ["render", "render (inference + tensor → frame), waited on"],
  ["encode", "encode (ffmpeg stdin + finish)"],
  ["credential", "credential (C2PA)"],
  ["hash", "sha256"],
  ["store", "Helia add + pin"],
  ["trace", "trace commit (overlapped)"],
  ["traceWait", "trace commit, not overlapped"],
  ["sign", "EIP-712 sign"],
  ["total", "segment total"],
];

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const family = ctx.family ?? "field";
  const f = await openFamily(family);
  const spec = familySpec(f, "benchmark: a red circle moving left on a blue background", 1);
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-provider-"));
  const node = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
  const store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir });
  const wallet = Wallet.createRandom();
  const domain = eip712Domain(31337, "0x00000000000000000000000000000000000000e5");
  const identity = await loadOrCreateProvenanceIdentity(dir, wallet);
  const components = {
    renderer: f.renderer,
    encode: (frames: AsyncIterable<Uint8Array>, o: { width: number; height: number; fps: number; signal?: AbortSignal | undefined }) =>
      encodeSegment(frames, o),
    // Content Credentials, as the provider signs every segment.
    credential: (mp4: Uint8Array, w: { jobId: `0x${string}`; segment: number; firstFrame: number; frameCount: number }) =>
      credentialSegment({
        mp4,
        identity,
        modelName: f.family,
        segment: {
          chainId: 31337,
          escrow: domain.verifyingContract as `0x${string}`,
          jobId: w.jobId,
          segment: w.segment,
          firstFrame: w.firstFrame,
          frameCount: w.frameCount,
          model: f.modelId,
        },
      }),
    store: { put: async (bytes: Uint8Array) => (await store.add(bytes, { pin: true })).toString() },
    signDelivery: (d: Parameters<typeof signDelivery>[2]) => signDelivery(wallet, domain, d),
    // As the provider wires it: blocks stored unpinned, the root pinned once.
    traces: {
      put: (cid: never, bytes: Uint8Array, o?: { signal?: AbortSignal | undefined }) => store.putBlock(cid, bytes, { ...o, pin: false }),
      putMany: (blocks: never[], o?: { signal?: AbortSignal | undefined }) => store.putBlocks(blocks, o),
      get: (cid: never) => store.getBlock(cid),
      pin: (root: never, known: ReadonlyMap<string, Uint8Array>, o?: { signal?: AbortSignal | undefined }) => store.pin(root, { known, signal: o?.signal }),
    },
  };
  let segment = 0;
  /** One segment as the render service runs it: waits for a render slot, hands it on at its last frame. */
  const pipelined = async (overlap: RenderOverlap, c: typeof components) => {
    // A different seed per segment, so every run really stores new blocks.
    const s = { ...spec, seed: spec.seed + segment };
    const work = { jobId: `0x${"be".repeat(32)}` as const, segment: segment++, spec: s, firstFrame: 0, frameCount: f.frames };
    const turn = await overlap.enter();
    try {
      return (await produceSegment(work, c, { onRendered: OVERLAP ? () => turn.rendered() : undefined })).timings;
    } finally {
      turn.leave();
    }
  };
  /** `count` segments started at once (the coordinator keeps a provider's queue full): wall seconds and each one's stages. */
  const runSegments = async (overlap: RenderOverlap, c: typeof components, count: number) => {
    const start = performance.now();
    const timings = await Promise.all(Array.from({ length: count }, () => pipelined(overlap, c)));
    return { seconds: (performance.now() - start) / 1000, timings };
  };
  const overlap = new RenderOverlap(1);
  const pipeline = () => runSegments(overlap, components, SEGMENTS);
  const bare = async () => {
    let seconds = 0;
    for (let i = 0; i < SEGMENTS; i++) seconds += await f.bare({ ...spec, seed: spec.seed + segment + i });
    return seconds;
  };

  // The --concurrency figure's renderers: CONCURRENT copies of the family on one thread each, as one provider's pool.
  const members: OpenFamily[] = [];
  try {
    if (CONCURRENT > 1) for (let i = 0; i < CONCURRENT; i++) members.push(await openFamily(family, 1));
    const pooled = members.length > 0 ? { ...components, renderer: pooledFamilyRenderer(members) } : undefined;
    const poolOverlap = new RenderOverlap(CONCURRENT);
    // Warm both up once (session initialisation, ffmpeg's first start, the page cache).
    await f.bare(spec);
    await pipelined(overlap, components);
    if (pooled) await runSegments(poolOverlap, pooled, CONCURRENT);
    const bareFps: number[] = [];
    const pipeFps: number[] = [];
    const ratios: number[] = [];
    const poolFps: number[] = [];
    const poolRatios: number[] = [];
    const timings: SegmentTimings[] = [];
    const frames = SEGMENTS * f.frames;
    for (let r = 0; r < ctx.runs; r++) {
      const b = frames / (await bare());
      const t = await pipeline();
      const p = frames / t.seconds;
      bareFps.push(b);
      pipeFps.push(p);
      ratios.push(p / b);
      timings.push(...t.timings);
      let line = `run ${r + 1}/${ctx.runs}: bare ${b.toFixed(2)} frames/s, pipeline ${p.toFixed(2)} frames/s, ratio ${(p / b).toFixed(3)}`;
      if (pooled) {
        // Two segments per renderer, so each renderer's second render overlaps another's finish, as in a job.
        const q = (2 * CONCURRENT * f.frames) / (await runSegments(poolOverlap, pooled, 2 * CONCURRENT)).seconds;
        poolFps.push(q);
        poolRatios.push(q / b);
        line += `; ${CONCURRENT} renderers × 1 thread ${q.toFixed(2)} frames/s (${(q / b).toFixed(2)}× bare on every core)`;
      }
      ctx.log(line);
    }
    const note = `${f.describe}, ${f.frames} frames per segment, ${SEGMENTS} segments per run${OVERLAP ? "" : ", no overlap (BENCH_OVERLAP=0)"}`;
    return [
      measured({ name: "bare session.run", unit: "frames/s", note }, bareFps),
      measured({ name: "provider pipeline (render+encode+hash+pin+trace+sign, next render overlapping)", unit: "frames/s", note }, pipeFps),
      measured({ name: "pipeline / bare session.run", unit: "ratio", target: 0.95, note }, ratios),
      ...STAGES.filter(([key]) => family === "diffusion" || (key !== "trace" && key !== "traceWait")).map(([key, label]) =>
        measured({ name: `stage: ${label}`, unit: "ms", better: "lower", stage: true }, timings.map((t) => t[key])),
      ),
      { name: "stage: bare session.run per segment", value: median(bareFps.map((b) => (1000 * f.frames) / b)), unit: "ms", better: "lower", stage: true },
      ...(poolFps.length > 0
        ? [
            measured(
              { name: `provider pipeline, --concurrency ${CONCURRENT} --threads 1 (a renderer per core)`, unit: "frames/s", note },
              poolFps,
            ),
            measured({ name: `--concurrency ${CONCURRENT} --threads 1 pipeline / bare session.run on every core (no target)`, unit: "ratio", note }, poolRatios),
          ]
        : []),
    ];
  } finally {
    await Promise.allSettled(members.map((m) => m.close()));
    await f.close();
    await store.stop();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
