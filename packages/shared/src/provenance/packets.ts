import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { mp4VideoTrack, withoutNalTypes } from "../media/mp4-samples.js";
import type { SegmentInput } from "../media/probe.js";

/** NAL unit types 6-9: SEI, SPS, PPS, access unit delimiter. */
const OUT_OF_BAND: ReadonlySet<number> = new Set([6, 7, 8, 9]);

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
 *
 * Read from the MP4's sample tables in this process (`mp4VideoTrack`): the
 * same md5s as `ffmpeg -c copy -bsf:v filter_units=remove_types=6|7|8|9
 * -f framemd5` (tested against it), without a process spawn per segment.
 */
export async function videoPackets(input: SegmentInput, options: { signal?: AbortSignal | undefined } = {}): Promise<string[]> {
  options.signal?.throwIfAborted();
  const bytes = typeof input === "string" ? new Uint8Array(await readFile(input)) : input;
  const track = mp4VideoTrack(bytes);
  return track.samples.map((sample) =>
    createHash("md5")
      .update(withoutNalTypes(sample, track.nalLengthSize, OUT_OF_BAND))
      .digest("hex"),
  );
}

/** One digest for a run of packets: 0x sha256 over their md5s, newline-separated. */
export function packetsDigest(packets: readonly string[]): `0x${string}` {
  return `0x${createHash("sha256").update(packets.join("\n")).digest("hex")}`;
}
