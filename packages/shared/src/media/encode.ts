import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MediaArgumentError } from "./errors.js";
import { runFfmpeg, withTempDir, writeChunk } from "./ffmpeg.js";
import { H264, h264Level } from "./h264.js";

/** Emitted after each frame is handed to the encoder. */
export interface EncodeFrameEvent {
  type: "encode:frame";
  /** Frames written so far. */
  done: number;
}
export type EncodeProgressEvent = EncodeFrameEvent;

export interface EncodeSegmentOptions {
  width: number;
  height: number;
  fps: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: EncodeProgressEvent) => void) | undefined;
  /** ffmpeg binary; default `resolveFfmpeg()`. */
  ffmpeg?: string | undefined;
}

/** The ffmpeg arguments of `encodeSegment`: raw RGB24 on stdin → H.264 MP4 at `output`. */
export function encodeArgs(options: { width: number; height: number; fps: number }, output: string): string[] {
  const { width, height, fps } = options;
  return [
    ...["-hide_banner", "-nostdin", "-loglevel", "error"],
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", `${width}x${height}`, "-framerate", String(fps), "-i", "pipe:0"],
    ...["-map", "0:v:0", "-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"],
    ...["-vf", `scale=out_color_matrix=${H264.colour}:out_range=tv:flags=${H264.swsFlags},format=${H264.pixelFormat}`],
    ...[
      "-c:v",
      H264.encoder,
      "-preset",
      H264.preset,
      "-crf",
      String(H264.crf),
      "-profile:v",
      H264.profile,
      "-level:v",
      h264Level(width, height, fps),
    ],
    ...["-pix_fmt", H264.pixelFormat, "-threads", String(H264.threads), "-x264-params", H264.x264Params],
    ...["-colorspace", H264.colour, "-color_primaries", H264.colour, "-color_trc", H264.colour, "-color_range", "tv"],
    ...["-fflags", "+bitexact", "-flags:v", "+bitexact", "-video_track_timescale", String(fps * H264.ticksPerFrame)],
    ...["-movflags", "+faststart", "-f", "mp4", "-y", output],
  ];
}

/** Checks frame size and rate for H.264 4:2:0 output. */
function checkVideoShape(width: number, height: number, fps: number): void {
  const problems: string[] = [];
  if (!Number.isInteger(width) || width < 2 || width % 2 !== 0) problems.push(`width ${width} must be a positive even integer`);
  if (!Number.isInteger(height) || height < 2 || height % 2 !== 0) problems.push(`height ${height} must be a positive even integer`);
  if (!Number.isInteger(fps) || fps < 1 || fps > 1000) problems.push(`fps ${fps} must be an integer in 1..1000`);
  if (problems.length > 0) throw new MediaArgumentError("Cannot encode video of this shape.", { details: problems });
}

/**
 * Encodes RGB24 frames (width · height · 3 bytes each) into one H.264 MP4
 * segment: frames go to ffmpeg's stdin (never to disk), the first frame is
 * the only keyframe, and every provider uses the same parameters (`H264`),
 * so segments concatenate without re-encoding. The same frames give the same
 * bytes.
 *
 * @example
 * const mp4 = await encodeSegment(renderer.renderFrames({ spec, firstFrame: 0, frameCount: 24 }), { width: 256, height: 256, fps: 24 });
 */
export async function encodeSegment(
  frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: EncodeSegmentOptions,
): Promise<Uint8Array> {
  const { width, height, fps, signal, onProgress } = options;
  checkVideoShape(width, height, fps);
  signal?.throwIfAborted();
  const frameBytes = width * height * 3;
  return withTempDir(async (dir) => {
    const output = join(dir, "segment.mp4");
    let done = 0;
    await runFfmpeg(encodeArgs({ width, height, fps }, output), {
      ffmpeg: options.ffmpeg,
      signal,
      what: `encode a ${width}x${height}@${fps} segment`,
      input: async (stdin) => {
        for await (const frame of frames) {
          signal?.throwIfAborted();
          if (frame.length !== frameBytes) {
            throw new MediaArgumentError(`Frame ${done} has ${frame.length} bytes; a ${width}x${height} RGB24 frame has ${frameBytes}.`);
          }
          await writeChunk(stdin, frame);
          done++;
          onProgress?.({ type: "encode:frame", done });
        }
        if (done === 0) throw new MediaArgumentError("Cannot encode a segment without frames.");
      },
    });
    return new Uint8Array(await readFile(output));
  });
}
