// Client verification cost: CPU time the client spends verifying a job
// (EIP-712 signature checks, sha256, ffmpeg decode, the content spot-check
// re-rendering random pixels of random frames) as a fraction of the CPU time
// the providers spent rendering it. Target: at most 5%.
//
// The segments are rendered and encoded as a provider does, at the default
// model's reference size and fps; the IPFS fetch is replaced by an in-memory
// map so that only the client's own work is measured. CPU time includes
// ffmpeg child processes (Linux: /proc/self/stat cutime + cstime).
//
//   pnpm build && node scripts/bench/client-verify.ts
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Wallet } from "ethers";
import { defaultVerifierComponents, SegmentVerifier } from "@rendermesh/client";
import type { JobSpec } from "@rendermesh/shared";
import { eip712Domain, signAssignment, signDelivery } from "@rendermesh/shared/chain";
import { segmentCid } from "@rendermesh/shared/ipfs";
import { createRenderer, createSpotRenderer, defaultModel } from "@rendermesh/shared/model";
import { encodeSegment } from "@rendermesh/shared/media";
import { createHash } from "node:crypto";
import type { BenchResult } from "./types.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

/** CPU milliseconds of this process and its waited-for children (ffmpeg). */
function cpuMs(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    // Fields after the ")" of the command name: state is field 3, cutime 16, cstime 17 (clock ticks, 100/s on Linux).
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    children = ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    // not Linux: children are not counted
  }
  return (own.user + own.system) / 1000 + children;
}

export async function run(): Promise<BenchResult[]> {
  const model = defaultModel();
  const { width, height, fps } = model.manifest.reference;
  const spec: JobSpec = { v: 1, model: model.manifest.id as `0x${string}`, prompt: "benchmark: a swirling field of colour at dusk", seed: 3, seconds: SECONDS, fps, width, height };
  const silent = { info() {}, warn() {}, debug() {} };
  const renderer = await createRenderer({ model, device: "cpu", logger: silent });
  const coordinator = Wallet.createRandom();
  const provider = Wallet.createRandom();
  const chainId = 31337;
  const escrow = `0x${"ee".repeat(20)}`;
  const jobId = `0x${"42".repeat(32)}` as `0x${string}`;
  const domain = eip712Domain(chainId, escrow);

  // The providers' side: render (measured), then encode and sign (not counted as render time).
  let renderCpu = 0;
  const segments = [];
  const store = new Map<string, Uint8Array>();
  for (let s = 0; s < SECONDS; s++) {
    const t0 = cpuMs();
    const frames: Uint8Array[] = [];
    for await (const f of renderer.renderFrames({ spec, firstFrame: s * fps, frameCount: fps })) frames.push(f);
    renderCpu += cpuMs() - t0;
    const bytes = await encodeSegment(frames, spec);
    const cid = (await segmentCid(bytes)).toString();
    store.set(cid, bytes);
    const assignment = { jobId, segment: s, firstFrame: s * fps, frameCount: fps, provider: provider.address as `0x${string}`, deadline: 2_000_000_000 };
    const delivery = { jobId, segment: s, cid, sha256: `0x${createHash("sha256").update(bytes).digest("hex")}` as `0x${string}`, frameCount: fps };
    segments.push({
      jobId,
      segment: s,
      peerId: "bench",
      multiaddrs: [],
      assignment: { assignment, signature: await signAssignment(coordinator, domain, assignment) },
      delivery: { delivery, signature: await signDelivery(provider, domain, delivery) },
    });
  }
  await renderer.close();

  // The client's side, as SegmentVerifier runs it for each delivered segment.
  const spot = await createSpotRenderer({ models: [model] });
  const verifier = new SegmentVerifier(
    defaultVerifierComponents({ store: { get: async (cid: { toString(): string }) => store.get(cid.toString())! } as never, spot }),
  );
  const job = { jobId, spec, chainId, escrow, coordinator: coordinator.address };
  // Warm the ONNX session (a one-time cost per client, not per job).
  await spot.renderPixels(spec, 0, Uint32Array.of(0));
  const t0 = cpuMs();
  const wall0 = performance.now();
  let worst = Infinity;
  for (const seg of segments) {
    const r = await verifier.verify(job, seg);
    if (!r.ok) throw new Error(`honest segment ${seg.segment} failed verification: ${r.failure.message}`);
    worst = Math.min(worst, r.psnrDb);
    if (process.env.BENCH_DEBUG) console.log(r.timings);
  }
  const verifyCpu = cpuMs() - t0;
  const verifyWall = performance.now() - wall0;
  await spot.close();

  const ratio = (100 * verifyCpu) / renderCpu;
  const results: BenchResult[] = [
    { name: "client verify CPU / provider render CPU", value: Number(ratio.toFixed(2)), unit: "%", target: 5, better: "lower", note: `${SECONDS} s at ${width}x${height}@${fps}` },
    { name: "client verify CPU per segment", value: Math.round(verifyCpu / SECONDS), unit: "ms" },
    { name: "provider render CPU per segment", value: Math.round(renderCpu / SECONDS), unit: "ms" },
    { name: "client verify wall time per segment", value: Math.round(verifyWall / SECONDS), unit: "ms" },
    { name: "lowest luma PSNR of honest segments", value: Number(worst.toFixed(1)), unit: "dB", target: 33, better: "higher" },
  ];
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.target !== undefined ? ` (target ${r.better === "lower" ? "≤" : "≥"} ${r.target})` : ""}${r.note ? ` — ${r.note}` : ""}`);
}
