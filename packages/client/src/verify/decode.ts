import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { H264, runFfmpeg } from "@rendermesh/shared/media";
import type { SegmentProbe } from "./types.js";

/**
 * Decodes a segment once, in one ffmpeg process, for verification:
 *
 * - every frame is decoded and listed (`framemd5`), which gives the decoded
 *   frame count, the size and the frame rate;
 * - only the sampled frames are converted to RGB24 and sent back, with the
 *   same colour conversion as shared/media's `decodeSegment` (BT.709, limited
 *   range, the same swscale flags), so the PSNRs are those measured.
 *
 * This is about half the CPU of probing and decoding every frame to RGB in
 * two processes; verification has to stay a few percent of rendering.
 */
export async function decodeSampled(
  bytes: Uint8Array,
  keep: ReadonlySet<number>,
  options: { ffmpeg?: string | undefined; signal?: AbortSignal | undefined } = {},
): Promise<{ probe: SegmentProbe; frames: Map<number, Uint8Array> }> {
  const dir = await mkdtemp(join(tmpdir(), "rm-verify-"));
  try {
    const input = join(dir, "segment.mp4");
    const list = join(dir, "frames.md5");
    await writeFile(input, bytes);
    const wanted = [...keep].sort((a, b) => a - b);
    const select = wanted.length > 0 ? `select=${wanted.map((n) => `eq(n\\,${n})`).join("+")},` : "select=0,";
    const chunks: Buffer[] = [];
    await runFfmpeg(
      [
        // One decoder thread: a 1-second segment is small, and thread start-up would cost more CPU than it saves.
        ...["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1", "-i", input],
        // Output 1: the sampled frames as RGB24.
        ...["-map", "0:v:0", "-vf", `${select}scale=in_color_matrix=${H264.colour}:in_range=tv:flags=${H264.swsFlags},format=rgb24`],
        ...["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        // Output 2: one line per decoded frame.
        ...["-map", "0:v:0", "-f", "framemd5", "-y", list],
      ],
      { ffmpeg: options.ffmpeg, signal: options.signal, what: "decode the segment", onStdout: (c) => chunks.push(c) },
    );
    const probe = parseDecodedFramemd5(await readFile(list, "utf8"));
    const rgb = Buffer.concat(chunks);
    const frameBytes = probe.width * probe.height * 3;
    const frames = new Map<number, Uint8Array>();
    if (frameBytes > 0 && rgb.length % frameBytes === 0) {
      const present = wanted.filter((n) => n < probe.frameCount);
      for (let i = 0; i < rgb.length / frameBytes && i < present.length; i++) {
        frames.set(present[i]!, new Uint8Array(rgb.subarray(i * frameBytes, (i + 1) * frameBytes)));
      }
    }
    return { probe, frames };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Size, frame rate and frame count from ffmpeg's framemd5 of decoded frames. */
export function parseDecodedFramemd5(text: string): SegmentProbe {
  let tbNum = 0;
  let tbDen = 0;
  let width = 0;
  let height = 0;
  let frameCount = 0;
  let ticks = 0;
  const durations = new Set<number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      const tb = /^#tb 0: (\d+)\/(\d+)/.exec(line);
      if (tb) [tbNum, tbDen] = [Number(tb[1]), Number(tb[2])];
      const dims = /^#dimensions 0: (\d+)x(\d+)/.exec(line);
      if (dims) [width, height] = [Number(dims[1]), Number(dims[2])];
      continue;
    }
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length < 6 || fields[0] !== "0") continue;
    frameCount++;
    const duration = Number(fields[3]);
    ticks += duration;
    durations.add(duration);
  }
  if (frameCount === 0 || tbDen === 0 || width === 0 || height === 0) throw new Error(`no decodable video frames (${frameCount} frames, ${width}x${height})`);
  const [only] = durations;
  const fps = durations.size === 1 && only !== undefined && only > 0 ? tbDen / (only * tbNum) : frameCount / ((ticks * tbNum) / tbDen);
  return { width, height, fps, frameCount };
}
