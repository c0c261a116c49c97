// Content Credentials cost: what signing and checking a video's C2PA
// manifest adds to a job, at the demo's size (192x192, 12 fps, 6 s): a
// provider credentialing one segment (coded-picture digest + c2pa-rs
// signing), the client signing the joined video with every segment as an
// ingredient, reading it back with c2pa-rs, and the bytes the manifests add.
// No targets: these are figures to watch.
//
//   pnpm build && node scripts/bench/provenance.ts
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Wallet } from "ethers";
import { concatSegments, encodeSegment } from "@rendermesh/shared/media";
import { createProvenanceIdentity, credentialSegment, JOB_ASSERTION, readCredentials, RENDERMESH_VERSION, signMp4 } from "@rendermesh/shared/provenance";
import type { BenchResult } from "./types.ts";

const SHAPE = { width: 192, height: 192, fps: 12 };
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const MODEL = `0x${"ab".repeat(32)}` as const;

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-provenance-"));
  try {
    const provider = await createProvenanceIdentity(Wallet.createRandom());
    const client = await createProvenanceIdentity(Wallet.createRandom());
    const plain: Uint8Array[] = [];
    for (let s = 0; s < SECONDS; s++) {
      // Frames that change from one to the next, so the encoder has real work and the files a real size.
      const frames = Array.from({ length: SHAPE.fps }, (_, f) => Uint8Array.from({ length: SHAPE.width * SHAPE.height * 3 }, (_, i) => (i * 7 + (s * SHAPE.fps + f) * 13) % 251));
      plain.push(await encodeSegment(frames, SHAPE));
    }
    // The first signing loads the WebAssembly module; measure it apart.
    let t = performance.now();
    await credentialSegment({ mp4: plain[0]!, identity: provider, segment: { chainId: 1, escrow: `0x${"00".repeat(20)}`, jobId: `0x${"01".repeat(32)}`, segment: 0, firstFrame: 0, frameCount: SHAPE.fps, model: MODEL } });
    const firstMs = performance.now() - t;
    const segments: Uint8Array[] = [];
    t = performance.now();
    for (const [s, mp4] of plain.entries()) {
      segments.push(
        await credentialSegment({ mp4, identity: provider, segment: { chainId: 1, escrow: `0x${"00".repeat(20)}`, jobId: `0x${"01".repeat(32)}`, segment: s, firstFrame: s * SHAPE.fps, frameCount: SHAPE.fps, model: MODEL } }),
      );
    }
    const segmentMs = (performance.now() - t) / SECONDS;
    const joined = join(dir, "video.mp4");
    await concatSegments(segments, joined);
    const unsigned = new Uint8Array(readFileSync(joined));
    t = performance.now();
    const video = await signMp4({
      mp4: unsigned,
      identity: client,
      title: "video.mp4",
      generator: { version: RENDERMESH_VERSION, model: MODEL },
      assertions: [{ label: JOB_ASSERTION, data: { bench: true } }],
      ingredients: segments.map((mp4, i) => ({ title: `segment-${i}.mp4`, mp4 })),
    });
    const videoMs = performance.now() - t;
    t = performance.now();
    const creds = await readCredentials(video);
    const readMs = performance.now() - t;
    if (creds.failures.length > 0) throw new Error(`the benchmark's video does not validate: ${creds.failures.map((f) => f.code).join(", ")}`);
    const segmentBytes = segments.reduce((n, s, i) => n + s.byteLength - plain[i]!.byteLength, 0) / SECONDS;
    return [
      { name: "first credential (loads c2pa-wasm)", value: Math.round(firstMs), unit: "ms", better: "lower" },
      { name: "credential one segment (provider)", value: Math.round(segmentMs), unit: "ms", better: "lower", note: `${SHAPE.width}x${SHAPE.height}@${SHAPE.fps}, 1 s` },
      { name: `sign the joined video, ${SECONDS} ingredients (client)`, value: Math.round(videoMs), unit: "ms", better: "lower" },
      { name: "read and validate the video's credentials", value: Math.round(readMs), unit: "ms", better: "lower" },
      { name: "bytes added per segment", value: Math.round(segmentBytes), unit: "B", better: "lower" },
      { name: "bytes added to the video", value: video.byteLength - unsigned.byteLength, unit: "B", better: "lower", note: `video ${video.byteLength} B` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` — ${r.note}` : ""}`);
}
