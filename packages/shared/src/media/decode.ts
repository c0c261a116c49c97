import { FfmpegError, MediaDecodeError } from "./errors.js";
import { runFfmpeg } from "./ffmpeg.js";
import { H264 } from "./h264.js";
import { probeSegment, withSegmentFile, type SegmentInput, type SegmentInfo } from "./probe.js";

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
    if (pending.length !== 0) throw new MediaDecodeError(`The decoded stream ends with a partial frame (${pending.length} of ${frameBytes} bytes).`);
    return { ...info, decodedFrames: index };
  });
}
