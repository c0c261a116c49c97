// Provider pipeline throughput: frames per second of one whole segment
// through the provider's pipeline (ONNX Runtime render → ffmpeg H.264 encode
// → sha256 → add + pin to the embedded Helia store → EIP-712 delivery
// signature), against a bare `session.run` loop over the same frames with
// the same batches and threads. The ratio says how much the rest of the
// pipeline costs on top of inference; the target is 0.95 or better.
//
//   pnpm build && node scripts/bench/provider.ts
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { produceSegment } from "@rendermesh/provider-node";
import type { JobSpec } from "@rendermesh/shared";
import { eip712Domain, signDelivery } from "@rendermesh/shared/chain";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { createRenderer, defaultModel, pixelCoords, promptLatent } from "@rendermesh/shared/model";
import { encodeSegment } from "@rendermesh/shared/media";
import { Wallet } from "ethers";
import type { BenchResult } from "./types.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The part of onnxruntime-node this benchmark uses. */
interface Ort {
  InferenceSession: {
    create(model: Uint8Array, options: Record<string, unknown>): Promise<{ run(feeds: Record<string, unknown>, outputs: string[]): Promise<unknown>; release(): Promise<void> }>;
  };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
}
// onnxruntime-node is a dependency of @rendermesh/shared; load the same copy.
const ort = createRequire(join(root, "packages", "shared", "package.json"))("onnxruntime-node") as Ort;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

export async function run(): Promise<BenchResult[]> {
  const model = defaultModel();
  const { width, height, fps } = model.manifest.reference;
  const frames = fps; // one segment: one second
  const pixels = width * height;
  const batch = Math.max(1, Math.min(16, Math.floor((1 << 18) / pixels)));
  const threads = availableParallelism();
  const spec: JobSpec = { v: 1, model: model.manifest.id as `0x${string}`, prompt: "benchmark: a swirling field of colour", seed: 1, seconds: 1, fps, width, height };

  // ---- bare session.run loop ----
  const session = await ort.InferenceSession.create(model.bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
  const coords = new ort.Tensor("float32", pixelCoords(width, height), [pixels, 2]);
  const dim = model.manifest.latent.dim;
  const latent = new ort.Tensor("float32", promptLatent(spec.prompt, spec.seed, dim), [1, dim]);
  const bare = async () => {
    const start = performance.now();
    for (let f = 0; f < frames; f += batch) {
      const n = Math.min(batch, frames - f);
      const t = new ort.Tensor("float32", Float32Array.from({ length: n }, (_, i) => (f + i) / fps), [n]);
      await session.run({ coords, t, latent }, ["rgb"]);
    }
    return frames / ((performance.now() - start) / 1000);
  };

  // ---- the provider's pipeline ----
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-provider-"));
  const node = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
  const store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir });
  const renderer = await createRenderer({ model, device: "cpu", batchSize: batch, threads });
  const wallet = Wallet.createRandom();
  const domain = eip712Domain(31337, "0x00000000000000000000000000000000000000e5");
  const components = {
    renderer,
    encode: (f: AsyncIterable<Uint8Array>, o: { width: number; height: number; fps: number; signal?: AbortSignal | undefined }) => encodeSegment(f, o),
    store: { put: async (bytes: Uint8Array) => (await store.add(bytes, { pin: true })).toString() },
    signDelivery: (d: Parameters<typeof signDelivery>[2]) => signDelivery(wallet, domain, d),
  };
  let segment = 0;
  const pipeline = async () => {
    const start = performance.now();
    // A different seed per round, so every round really stores new blocks.
    const s = { ...spec, seed: spec.seed + segment };
    await produceSegment({ jobId: `0x${"be".repeat(32)}`, segment: segment++, spec: s, firstFrame: 0, frameCount: frames }, components);
    return frames / ((performance.now() - start) / 1000);
  };

  try {
    // Warm both up once (session initialisation, ffmpeg first start, page cache).
    await bare();
    await pipeline();
    const bareFps: number[] = [];
    const pipeFps: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      bareFps.push(await bare());
      pipeFps.push(await pipeline());
    }
    const best = (xs: number[]) => Math.max(...xs);
    const b = best(bareFps);
    const p = best(pipeFps);
    const note = `${width}x${height}, ${frames} frames per segment, batch ${batch}, ${threads} threads, CPU, best of ${ROUNDS}`;
    return [
      { name: "bare session.run", value: b, unit: "frames/s", note },
      { name: "provider pipeline (render+encode+hash+pin+sign)", value: p, unit: "frames/s", note },
      { name: "pipeline / bare session.run", value: p / b, unit: "ratio", target: 0.95, note },
    ];
  } finally {
    await renderer.close();
    await session.release();
    await store.stop();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const results = await run();
  for (const r of results) console.log(`${r.name}: ${Number(r.value.toPrecision(4))} ${r.unit}${r.target === undefined ? "" : ` (target ≥ ${r.target})`}`);
  process.exit(0);
}
