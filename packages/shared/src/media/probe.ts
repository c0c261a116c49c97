import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FfmpegError, MediaDecodeError } from "./errors.js";
import { runFfmpeg, withTempDir } from "./ffmpeg.js";

/** A segment: MP4 bytes, or the path of an MP4 file. */
export type SegmentInput = Uint8Array | string;

export interface SegmentInfo {
  /** Video packets (one per frame for H.264 in MP4). */
  frames: number;
  width: number;
  height: number;
  /** Frame rate from the packet durations (frames / duration when they vary). */
  fps: number;
  durationSeconds: number;
  /** ffmpeg's codec name, e.g. `h264`. */
  codec: string;
  /** e.g. `yuv420p`, from the stream description; undefined if ffmpeg did not say. */
  pixelFormat: string | undefined;
  /** e.g. `High`, from the stream description; undefined if ffmpeg did not say. */
  profile: string | undefined;
}

export interface ProbeSegmentOptions {
  signal?: AbortSignal | undefined;
  ffmpeg?: string | undefined;
}

/** Runs `fn` on a file path for the input, writing bytes to a temporary file first. */
export async function withSegmentFile<T>(input: SegmentInput, fn: (path: string) => Promise<T>): Promise<T> {
  if (typeof input === "string") return fn(input);
  return withTempDir(async (dir) => {
    const path = join(dir, "input.mp4");
    await writeFile(path, input);
    return fn(path);
  });
}

/**
 * Reads a segment's video stream without decoding it: ffmpeg copies the
 * packets into its `framemd5` muxer, which lists the time base, codec, size
 * and every packet's duration. (ffprobe is not shipped with
 * @ffmpeg-installer/ffmpeg, so ffmpeg itself does the probing.)
 *
 * @example
 * const { frames, fps, width, height } = await probeSegment(mp4Bytes);
 */
export async function probeSegment(input: SegmentInput, options: ProbeSegmentOptions = {}): Promise<SegmentInfo> {
  return withSegmentFile(input, async (path) => {
    const { stdout, stderr } = await runFfmpeg(
      ["-hide_banner", "-nostdin", "-loglevel", "info", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "pipe:1"],
      { ffmpeg: options.ffmpeg, signal: options.signal, what: "read the segment's video stream" },
    ).catch((cause: unknown) => {
      throw cause instanceof FfmpegError ? new MediaDecodeError("The segment is not a readable video file.", { cause }) : cause;
    });
    return parseFramemd5(stdout.toString("utf8"), stderr);
  });
}

/** Parses ffmpeg's framemd5 output (header lines + one line per packet) and its stream description on stderr. */
export function parseFramemd5(text: string, stderr = ""): SegmentInfo {
  let tbNum = 0;
  let tbDen = 0;
  let width = 0;
  let height = 0;
  let codec = "";
  let frames = 0;
  let ticks = 0;
  const durations = new Set<number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      const tb = /^#tb 0: (\d+)\/(\d+)/.exec(line);
      if (tb) [tbNum, tbDen] = [Number(tb[1]), Number(tb[2])];
      const dims = /^#dimensions 0: (\d+)x(\d+)/.exec(line);
      if (dims) [width, height] = [Number(dims[1]), Number(dims[2])];
      const codecId = /^#codec_id 0: (\S+)/.exec(line);
      if (codecId) codec = codecId[1] as string;
      continue;
    }
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length < 6 || fields[0] !== "0") continue;
    const duration = Number(fields[3]);
    frames++;
    ticks += duration;
    durations.add(duration);
  }
  if (frames === 0 || tbDen === 0 || width === 0 || height === 0) {
    throw new MediaDecodeError("The segment has no video frames ffmpeg can read.", {
      details: [`frames: ${frames}`, `size: ${width}x${height}`],
    });
  }
  const durationSeconds = (ticks * tbNum) / tbDen;
  const [only] = durations;
  const fps = durations.size === 1 && only !== undefined && only > 0 ? tbDen / (only * tbNum) : frames / durationSeconds;
  const stream = /Stream #0:\d+.*?: Video: (\w+)(?: \(([^)]*)\))?.*?, (\w+)(?:\(|,)/.exec(stderr);
  return {
    frames,
    width,
    height,
    fps,
    durationSeconds,
    codec,
    pixelFormat: stream?.[3],
    profile: stream?.[2],
  };
}
