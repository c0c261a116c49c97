import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { MediaArgumentError, MediaDecodeError } from "./errors.js";
import { runFfmpeg, withTempDir } from "./ffmpeg.js";
import { probeSegment, type SegmentInfo, type SegmentInput } from "./probe.js";

export interface ConcatSegmentsOptions {
  signal?: AbortSignal | undefined;
  ffmpeg?: string | undefined;
}

/** Quotes a path for an ffconcat `file` line. */
function concatQuote(path: string): string {
  return `'${path.replace(/'/g, "'\\''")}'`;
}

/**
 * Joins segments (paths or MP4 bytes, in order) into one MP4 at `outPath`
 * with the concat demuxer and `-c copy`: no re-encode, so it takes
 * milliseconds and keeps every verified frame exactly. Segments must come
 * from `encodeSegment` with the same size and fps. Resolves with the probe
 * of the result.
 *
 * @example
 * const info = await concatSegments(["seg-0.mp4", "seg-1.mp4"], "out/video.mp4");
 */
export async function concatSegments(
  segments: readonly SegmentInput[],
  outPath: string,
  options: ConcatSegmentsOptions = {},
): Promise<SegmentInfo> {
  if (segments.length === 0) throw new MediaArgumentError("Cannot concatenate zero segments.");
  return withTempDir(async (dir) => {
    const files = await Promise.all(
      segments.map(async (segment, i) => {
        if (typeof segment === "string") return resolve(segment);
        const path = join(dir, `segment-${String(i).padStart(6, "0")}.mp4`);
        await writeFile(path, segment);
        return path;
      }),
    );
    // Every segment must be a readable video of one shape, or the join would be silently short or broken.
    const infos: SegmentInfo[] = [];
    for (const file of files) infos.push(await probeSegment(file, options));
    const first = infos[0] as SegmentInfo;
    infos.forEach((info, i) => {
      if (info.width !== first.width || info.height !== first.height || info.fps !== first.fps || info.codec !== first.codec) {
        throw new MediaArgumentError(
          `Segment ${i} is ${info.width}x${info.height}@${info.fps} ${info.codec}, segment 0 is ${first.width}x${first.height}@${first.fps} ${first.codec}.`,
          {
            hint: "Segments of one video must be encoded with the same size and fps (encodeSegment).",
          },
        );
      }
    });
    const expectedFrames = infos.reduce((sum, info) => sum + info.frames, 0);
    const list = join(dir, "segments.ffconcat");
    await writeFile(list, `ffconcat version 1.0\n${files.map((f) => `file ${concatQuote(f)}`).join("\n")}\n`);
    const target = resolve(outPath);
    await mkdir(dirname(target), { recursive: true });
    // Write beside the target and rename, so a failed join never leaves a half file at outPath.
    const partial = `${target}.partial-${process.pid}.mp4`;
    try {
      await runFfmpeg(
        [
          ...["-hide_banner", "-nostdin", "-loglevel", "error", "-xerror", "-f", "concat", "-safe", "0", "-i", list],
          ...["-map", "0:v:0", "-c", "copy", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"],
          ...["-movflags", "+faststart", "-f", "mp4", "-y", partial],
        ],
        { ffmpeg: options.ffmpeg, signal: options.signal, what: `concatenate ${segments.length} segments` },
      );
      await rename(partial, target);
    } finally {
      await rm(partial, { force: true });
    }
    const info = await probeSegment(target, options);
    if (info.frames !== expectedFrames) {
      throw new MediaDecodeError(`The joined video has ${info.frames} frames, the segments have ${expectedFrames}.`, {
        details: [`output: ${target}`],
      });
    }
    return info;
  });
}
