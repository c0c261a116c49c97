import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FfmpegError, MediaDecodeError } from "./errors.js";
import { runFfmpeg, withTempDir } from "./ffmpeg.js";
import { H264 } from "./h264.js";
import { parseFramemd5, probeSegment, withSegmentFile, type SegmentInput, type SegmentInfo } from "./probe.js";

export interface DecodeSegmentOptions {
  /** Expected size; a segment of another size is rejected. Default: the probed size. */
  width?: number | undefined;
  height?: number | undefined;
  signal?: AbortSignal | undefined;
  ffmpeg?: string | undefined;
}

/** The ffmpeg arguments that decode `input` to raw RGB24 on stdout, one output frame per coded frame. */
export function decodeArgs(input: string): string[] {
  return [
    ...["-hide_banner", "-nostdin", "-loglevel", "error", "-i", input, "-map", "0:v:0"],
    ...["-vf", `scale=in_color_matrix=${H264.colour}:in_range=tv:flags=${H264.swsFlags},format=rgb24`],
    // passthrough: never duplicate or drop frames to fit a frame rate
    ...["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
  ];
}

/**
 * Decodes a segment to RGB24 frames (width · height · 3 bytes each) in
 * presentation order, after checking its size against the expected one.
 *
 * @example
 * const frames = await decodeSegment(mp4Bytes, { width: 256, height: 256 });
 */
export async function decodeSegment(input: SegmentInput, options: DecodeSegmentOptions = {}): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  await decodeSegmentFrames(input, options, (frame) => frames.push(frame));
  return frames;
}

/**
 * Decodes a segment and hands each RGB24 frame to `onFrame` as it arrives,
 * so a caller that keeps only a few frames does not hold them all. Resolves
 * with the segment's probe information and the number of frames decoded.
 */
export async function decodeSegmentFrames(
  input: SegmentInput,
  options: DecodeSegmentOptions,
  onFrame: (frame: Uint8Array, index: number) => void,
): Promise<SegmentInfo & { decodedFrames: number }> {
  return withSegmentFile(input, async (path) => {
    const info = await probeSegment(path, { signal: options.signal, ffmpeg: options.ffmpeg });
    const width = options.width ?? info.width;
    const height = options.height ?? info.height;
    if (info.width !== width || info.height !== height) {
      throw new MediaDecodeError(`The segment is ${info.width}x${info.height}, expected ${width}x${height}.`);
    }
    const frameBytes = width * height * 3;
    let pending: Buffer = Buffer.alloc(0);
    let index = 0;
    await runFfmpeg(decodeArgs(path), {
      ffmpeg: options.ffmpeg,
      signal: options.signal,
      what: "decode the segment",
      onStdout: (chunk) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let offset = 0;
        while (pending.length - offset >= frameBytes) {
          onFrame(new Uint8Array(pending.subarray(offset, offset + frameBytes)), index++);
          offset += frameBytes;
        }
        pending = pending.subarray(offset);
      },
    }).catch((cause: unknown) => {
      // ffmpeg's failures mean a bad segment; an abort or the consumer's own error passes through.
      throw cause instanceof FfmpegError ? new MediaDecodeError("The segment cannot be decoded.", { cause }) : cause;
    });
    if (pending.length !== 0)
      throw new MediaDecodeError(`The decoded stream ends with a partial frame (${pending.length} of ${frameBytes} bytes).`);
    return { ...info, decodedFrames: index };
  });
}

export interface DecodeSampledOptions {
  signal?: AbortSignal | undefined;
  ffmpeg?: string | undefined;
}

/**
 * Decodes a segment once, in one ffmpeg process, for verification:
 *
 * - every frame is decoded and listed (`framemd5`, read by the same parser
 *   as `probeSegment`), which gives the decoded frame count, size and rate;
 * - only the frames in `keep` are converted to RGB24 and sent back, with the
 *   colour conversion of `decodeSegment` (BT.709, limited range, the same
 *   swscale flags), so the PSNRs are those measured.
 *
 * About half the CPU of probing and decoding every frame to RGB in two
 * processes: verification has to stay a few percent of rendering.
 */
export async function decodeSampled(
  input: SegmentInput,
  keep: ReadonlySet<number>,
  options: DecodeSampledOptions = {},
): Promise<{ info: SegmentInfo; frames: Map<number, Uint8Array> }> {
  return withSegmentFile(input, (path) =>
    withTempDir(async (dir) => {
      const list = join(dir, "frames.md5");
      const wanted = [...keep].sort((a, b) => a - b);
      const select = wanted.length > 0 ? `select=${wanted.map((n) => `eq(n\\,${n})`).join("+")},` : "select=0,";
      const chunks: Buffer[] = [];
      await runFfmpeg(
        [
          // One decoder thread: a 1-second segment is small, and thread start-up would cost more CPU than it saves.
          ...["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1", "-i", path],
          // Output 1: the sampled frames as RGB24.
          ...["-map", "0:v:0", "-vf", `${select}scale=in_color_matrix=${H264.colour}:in_range=tv:flags=${H264.swsFlags},format=rgb24`],
          ...["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
          // Output 2: one line per decoded frame.
          ...["-map", "0:v:0", "-f", "framemd5", "-y", list],
        ],
        { ffmpeg: options.ffmpeg, signal: options.signal, what: "decode the segment", onStdout: (c) => chunks.push(c) },
      ).catch((cause: unknown) => {
        throw cause instanceof FfmpegError ? new MediaDecodeError("The segment is not a readable video file.", { cause }) : cause;
      });
      const info = parseFramemd5(await readFile(list, "utf8"));
      const rgb = Buffer.concat(chunks);
      const frameBytes = info.width * info.height * 3;
      const frames = new Map<number, Uint8Array>();
      if (frameBytes > 0 && rgb.length % frameBytes === 0) {
        const present = wanted.filter((n) => n < info.frames);
        for (let i = 0; i < rgb.length / frameBytes && i < present.length; i++) {
          frames.set(present[i]!, new Uint8Array(rgb.subarray(i * frameBytes, (i + 1) * frameBytes)));
        }
      }
      return { info, frames };
    }),
  );
}
