// Provider pipeline throughput, per model family: one whole segment through
// the provider's pipeline (render → ffmpeg H.264 encode → sha256 → add + pin
// to the embedded Helia store → the trace committed for a diffusion pipeline
// → EIP-712 delivery signature), against the bare `session.run` calls of
// the same segment with the same shapes and threads. The ratio says how much
// the rest of the pipeline costs on top of inference; the target is 0.95 or
// better. Each run measures a bare segment and a pipeline segment back to
// back, so both see the same machine load; the ratio's samples are per run.
// The per-stage medians (`stage: true`) say where a segment's time goes.
//
//   pnpm build && node scripts/bench.ts --only pipeline --runs 5
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { produceSegment, type SegmentTimings } from "@rendermesh/provider-node";
import { eip712Domain, signDelivery } from "@rendermesh/shared/chain";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import { Wallet } from "ethers";
import { familySpec, openFamily } from "./lib/families.ts";
import { median } from "./lib/stats.ts";
import { measured, MODEL_FAMILIES, type BenchContext, type BenchResult } from "./types.ts";

export const families = MODEL_FAMILIES;

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
  const components = {
    renderer: f.renderer,
    encode: (frames: AsyncIterable<Uint8Array>, o: { width: number; height: number; fps: number; signal?: AbortSignal | undefined }) =>
      encodeSegment(frames, o),
    store: { put: async (bytes: Uint8Array) => (await store.add(bytes, { pin: true })).toString() },
    signDelivery: (d: Parameters<typeof signDelivery>[2]) => signDelivery(wallet, domain, d),
    // As the provider wires it: blocks stored unpinned, the root pinned once.
    traces: {
      put: (cid: never, bytes: Uint8Array, o?: { signal?: AbortSignal | undefined }) => store.putBlock(cid, bytes, { ...o, pin: false }),
      get: (cid: never) => store.getBlock(cid),
      pin: (root: never, known: ReadonlyMap<string, Uint8Array>, o?: { signal?: AbortSignal | undefined }) => store.pin(root, { known, signal: o?.signal }),
    },
  };
  let segment = 0;
  const pipeline = async () => {
    // A different seed per segment, so every run really stores new blocks.
    const s = { ...spec, seed: spec.seed + segment };
    const out = await produceSegment({ jobId: `0x${"be".repeat(32)}`, segment: segment++, spec: s, firstFrame: 0, frameCount: f.frames }, components);
    return out.timings;
  };

  try {
    // Warm both up once (session initialisation, ffmpeg's first start, the page cache).
    await f.bare(spec);
    await pipeline();
    const bareFps: number[] = [];
    const pipeFps: number[] = [];
    const ratios: number[] = [];
    const timings: SegmentTimings[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const b = f.frames / (await f.bare({ ...spec, seed: spec.seed + segment }));
      const t = await pipeline();
      const p = f.frames / (t.total / 1000);
      bareFps.push(b);
      pipeFps.push(p);
      ratios.push(p / b);
      timings.push(t);
      ctx.log(`run ${r + 1}/${ctx.runs}: bare ${b.toFixed(2)} frames/s, pipeline ${p.toFixed(2)} frames/s, ratio ${(p / b).toFixed(3)}`);
    }
    const note = `${f.describe}, ${f.frames} frames per segment`;
    return [
      measured({ name: "bare session.run", unit: "frames/s", note }, bareFps),
      measured({ name: "provider pipeline (render+encode+hash+pin+trace+sign)", unit: "frames/s", note }, pipeFps),
      measured({ name: "pipeline / bare session.run", unit: "ratio", target: 0.95, note }, ratios),
      ...STAGES.filter(([key]) => family === "diffusion" || (key !== "trace" && key !== "traceWait")).map(([key, label]) =>
        measured({ name: `stage: ${label}`, unit: "ms", better: "lower", stage: true }, timings.map((t) => t[key])),
      ),
      { name: "stage: bare session.run per segment", value: median(bareFps.map((b) => (1000 * f.frames) / b)), unit: "ms", better: "lower", stage: true },
    ];
  } finally {
    await f.close();
    await store.stop();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
