import { createHash } from "node:crypto";
import { runFfmpeg } from "../media/ffmpeg.js";
import { withSegmentFile, type SegmentInput } from "../media/probe.js";

/**
 * The coded pictures of an MP4's H.264 stream, as ffmpeg's framemd5 lists
 * them with `-c copy` (no decoding): one md5 per frame over its slice data.
 * The segments of a job are joined without re-encoding, so the joined
 * video's pictures are exactly its segments' in order; a provider signs the
 * digest of its segment's pictures, and a viewer can tell that the video's
 * frames are those segments' without fetching them. Parameter sets, SEI and
 * access unit delimiters are left out (the join may repeat parameter sets
 * in-band at each keyframe); manifest boxes are outside the stream, so the
 * digest is the same before and after credentials are embedded.
 */
export async function videoPackets(
  input: SegmentInput,
  options: { ffmpeg?: string | undefined; signal?: AbortSignal | undefined } = {},
): Promise<string[]> {
  return withSegmentFile(input, async (path) => {
    const { stdout } = await runFfmpeg(
      [
        ...["-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:v:0", "-c", "copy"],
        // NAL unit types 6-9: SEI, SPS, PPS, access unit delimiter.
        ...["-bsf:v", "filter_units=remove_types=6|7|8|9", "-f", "framemd5", "pipe:1"],
      ],
      {
        ffmpeg: options.ffmpeg,
        signal: options.signal,
        what: "list the video's coded packets",
      },
    );
    return stdout
      .toString("utf8")
      .split("\n")
      .filter((line) => line.startsWith("0,"))
      .map((line) => line.split(",").pop()!.trim());
  });
}

/** One digest for a run of packets: 0x sha256 over their md5s, newline-separated. */
export function packetsDigest(packets: readonly string[]): `0x${string}` {
  return `0x${createHash("sha256").update(packets.join("\n")).digest("hex")}`;
}
